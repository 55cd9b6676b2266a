// The catch-up service of sites: `uplink.rpc.command.pending.<sat>` answers a site's released,
// unfinished commands exactly as signed. A plain core-NATS responder (sites send raw requests through
// their leaf, not Nest's envelope); a site account imports only its own subject.
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import { ErrorCode, NAME_PATTERN, PENDING_COMMANDS_ALL, PendingCommandsRequest, UplinkError, parseOrThrow, rpcError, rpcOk } from '@uplink/contracts';
import type { Logger } from '@uplink/observability';
import type { CommandService } from './command-service.js';

export function servePendingCommands(nc: NatsConnection, service: CommandService, log: Logger): Subscription {
  async function handle(msg: Msg) {
    const satellite = msg.subject.split('.').pop() ?? '';
    let reply;
    try {
      if (!NAME_PATTERN.test(satellite)) throw new UplinkError(ErrorCode.VALIDATION_FAILED, `invalid satellite name in ${msg.subject}`);
      let json: unknown = {};
      if (msg.data.length > 0) {
        try {
          json = JSON.parse(new TextDecoder().decode(msg.data));
        } catch (err) {
          throw new UplinkError(ErrorCode.INVALID_JSON, `pending commands request is not JSON: ${(err as Error).message}`);
        }
      }
      const req = parseOrThrow(PendingCommandsRequest, json, 'pending commands request');
      const page = await service.pending(satellite, req);
      log.debug({ satellite, commands: page.commands.length }, 'pending commands sent');
      reply = rpcOk(page);
    } catch (err) {
      if (!(err instanceof UplinkError)) log.error({ err, satellite }, 'pending commands request failed');
      reply = rpcError(err);
    }
    if (msg.reply) msg.respond(JSON.stringify(reply));
  }
  return nc.subscribe(PENDING_COMMANDS_ALL, {
    queue: 'command',
    callback: (err, msg) => {
      if (err) {
        log.warn({ err: err.message }, 'pending commands subscription error');
        return;
      }
      void handle(msg);
    },
  });
}
