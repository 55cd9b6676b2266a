// GET /v1/audit?entity&entityId&actor&action&outcome&from&to&limit&before: the audit trail, newest
// first (admin only, see access.ts).
import { Controller, Get, Inject, Query } from '@nestjs/common';
import { AuditQuery } from '@uplink/contracts';
import { RpcGateway } from '../rpc-gateway.js';
import { query } from '../validation.js';

@Controller('v1/audit')
export class AuditController {
  constructor(@Inject(RpcGateway) private readonly rpc: RpcGateway) {}

  @Get()
  list(@Query(query(AuditQuery)) q: AuditQuery) {
    return this.rpc.call('auth', 'queryAudit', q);
  }
}
