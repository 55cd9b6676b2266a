// /v1/users: operators and their roles (admin only, see access.ts).
import { Controller, Get, HttpCode, Inject, Param, Patch, Post } from '@nestjs/common';
import { CreateUserBody, UpdateUserBody, Username } from '@uplink/contracts';
import { RpcGateway } from '../rpc-gateway.js';
import { JsonBody, pathParam } from '../validation.js';

const userParam = () => pathParam('name', Username);

@Controller('v1/users')
export class UsersController {
  constructor(@Inject(RpcGateway) private readonly rpc: RpcGateway) {}

  @Get()
  list() {
    return this.rpc.call('auth', 'listUsers', {});
  }

  /** `{ name, role, password }` */
  @Post()
  @HttpCode(201)
  create(@JsonBody(CreateUserBody) body: CreateUserBody) {
    return this.rpc.call('auth', 'createUser', body);
  }

  @Get(':name')
  get(@Param('name', userParam()) name: string) {
    return this.rpc.call('auth', 'getUser', { name });
  }

  /** `{ role?, disabled?, password? }`: only the fields given change */
  @Patch(':name')
  update(@Param('name', userParam()) name: string, @JsonBody(UpdateUserBody) body: UpdateUserBody) {
    return this.rpc.call('auth', 'updateUser', { name, body });
  }
}
