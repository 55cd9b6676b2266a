// The web dashboard, reachable without a bearer token: GET / (and /dashboard) is the page,
// GET /dashboard/<file> its script and stylesheet. The page asks for a token and then calls the REST API
// and the live feed itself, so nothing here sees a token or any fleet data.
import { Controller, Get, Inject, Param, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ErrorCode, UplinkError } from '@uplink/contracts';
import type { Logger } from '@uplink/observability';
import { Public } from '../auth.js';
import { LOGGER } from '../tokens.js';
import { DASHBOARD_HEADERS, dashboardDir, loadDashboardAssets, notModified, type DashboardAsset } from './assets.js';

@Public()
@Controller()
export class DashboardController {
  private readonly assets: Map<string, DashboardAsset> | undefined;
  private readonly missing: string | undefined;

  constructor(@Inject(LOGGER) log: Logger) {
    // a gateway without its dashboard files still serves the API; the page answers 503 saying why
    try {
      this.assets = loadDashboardAssets(dashboardDir());
    } catch (err) {
      this.missing = (err as Error).message;
      log.error({ err: this.missing }, 'dashboard unavailable');
    }
  }

  @Get()
  page(@Req() req: FastifyRequest, @Res() reply: FastifyReply): void {
    this.send('index.html', req, reply);
  }

  @Get('dashboard')
  dashboard(@Req() req: FastifyRequest, @Res() reply: FastifyReply): void {
    this.send('index.html', req, reply);
  }

  @Get('dashboard/:file')
  file(@Param('file') file: string, @Req() req: FastifyRequest, @Res() reply: FastifyReply): void {
    this.send(file, req, reply);
  }

  private send(name: string, req: FastifyRequest, reply: FastifyReply): void {
    if (!this.assets) throw new UplinkError(ErrorCode.SERVICE_UNAVAILABLE, `the dashboard is not available: ${this.missing}`);
    const asset = this.assets.get(name);
    if (!asset) throw new UplinkError(ErrorCode.NOT_FOUND, `no dashboard file "${name}"`);
    void reply.headers({ ...DASHBOARD_HEADERS, etag: asset.etag });
    if (notModified(req.headers['if-none-match'], asset.etag)) {
      void reply.code(304).send();
      return;
    }
    void reply.code(200).type(asset.contentType).send(asset.body);
  }
}
