// GET /v1/stream/telemetry: the live telemetry feed as server-sent events, filtered by satellite and
// kind. Each event's id is its TELEMETRY stream sequence; a client reconnecting with Last-Event-ID
// (or ?lastEventId=) resumes right after it, from an ordered consumer started at that sequence.
// Comment lines keep idle connections open through proxies.
import { once } from 'node:events';
import { Controller, Get, Inject, Query, Req, Res, type BeforeApplicationShutdown } from '@nestjs/common';
import type { ClientProxy } from '@nestjs/microservices';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream, type ConsumerMessages } from '@nats-io/jetstream';
import { ErrorCode, hubStreams, SCHEMA_HEADER, TelemetryStreamQuery, UplinkError } from '@uplink/contracts';
import type { Logger } from '@uplink/observability';
import { query } from '../validation.js';
import { LOGGER, NATS_CLIENT } from '../tokens.js';
import { sseFrame, startSequence, streamFilter, toStreamEvent } from './stream-events.js';

/** A comment line this often keeps proxies from closing a quiet feed. */
export const SSE_KEEPALIVE_MS = 15_000;

@Controller('v1/stream')
export class TelemetryStreamController implements BeforeApplicationShutdown {
  /** open feeds: how to stop each, and when it has ended */
  private readonly open = new Map<() => void, Promise<void>>();

  constructor(
    @Inject(NATS_CLIENT) private readonly client: ClientProxy,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  /** End every feed before the HTTP server closes, so closing never waits for a feed's client. */
  async beforeApplicationShutdown(): Promise<void> {
    const ended = [...this.open.entries()].map(([stop, done]) => {
      stop();
      return done;
    });
    await Promise.all(ended);
  }

  @Get('telemetry')
  async telemetry(
    @Query(query(TelemetryStreamQuery)) q: TelemetryStreamQuery,
    @Req() req: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const nc = await this.connection();
    const header = req.headers['last-event-id'];
    const lastEventId = (Array.isArray(header) ? header[0] : header) ?? q.lastEventId;
    const filter = streamFilter(q);
    let messages: ConsumerMessages;
    try {
      const js = jetstream(nc);
      const info = await (await js.jetstreamManager()).streams.info(hubStreams.TELEMETRY.name);
      const consumer = await js.consumers.get(hubStreams.TELEMETRY.name, {
        filter_subjects: filter,
        opt_start_seq: startSequence(lastEventId, info.state.last_seq),
      });
      messages = await consumer.consume({ max_messages: 256 });
    } catch (err) {
      throw new UplinkError(ErrorCode.SERVICE_UNAVAILABLE, `the telemetry stream is not available: ${(err as Error).message}`, { cause: err });
    }

    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      // the connection ends with the feed
      connection: 'close',
      'x-accel-buffering': 'no',
    });
    res.write(`retry: 2000\n: telemetry ${filter}\n\n`);
    let closed = false;
    const keepalive = setInterval(() => res.write(': keepalive\n\n'), SSE_KEEPALIVE_MS);
    const stop = () => {
      if (closed) return;
      closed = true;
      clearInterval(keepalive);
      messages.stop();
    };
    let ended!: () => void;
    this.open.set(stop, new Promise<void>((r) => (ended = r)));
    req.raw.once('close', stop);
    res.once('close', stop);
    this.log.debug({ filter, lastEventId }, 'telemetry feed opened');
    try {
      for await (const m of messages) {
        const event = toStreamEvent({ subject: m.subject, seq: m.seq, schema: m.headers?.get(SCHEMA_HEADER) || undefined, data: m.data });
        if (!event) continue;
        if (!res.write(sseFrame(event))) await Promise.race([once(res, 'drain'), once(res, 'close')]);
        if (closed) break;
      }
    } catch (err) {
      this.log.warn({ err: (err as Error).message, filter }, 'telemetry feed ended');
    } finally {
      stop();
      res.end();
      this.open.delete(stop);
      ended();
    }
  }

  private async connection(): Promise<NatsConnection> {
    try {
      await this.client.connect();
      return this.client.unwrap<NatsConnection>();
    } catch (err) {
      throw new UplinkError(ErrorCode.SERVICE_UNAVAILABLE, `the live feed is unavailable: NATS is not connected (${(err as Error).message})`, { cause: err });
    }
  }
}
