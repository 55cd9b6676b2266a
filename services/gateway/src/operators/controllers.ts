// The gateway's operator routes (login, users, tokens, audit) and the providers of authentication and
// the audit trail.
import type { Provider, Type } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { AuditController } from './audit.controller.js';
import { AuditInterceptor, AuditRecorder } from './audit.js';
import { LoginController } from './login.controller.js';
import { TokenVerifier } from './token-verifier.js';
import { TokensController } from './tokens.controller.js';
import { UsersController } from './users.controller.js';

export const operatorControllers: Type[] = [LoginController, UsersController, TokensController, AuditController];

export const operatorProviders: Provider[] = [TokenVerifier, AuditRecorder, { provide: APP_INTERCEPTOR, useClass: AuditInterceptor }];
