import { describe, expect, it } from 'vitest';
import { connect } from '@nats-io/transport-node';
import { startHub, startLeaf, leafConnected } from './nats.js';
import { startLinkProxy } from './proxy.js';
import { waitFor } from './wait.js';

describe('hub, leaf and link proxy', () => {
  it('carries core messages hub -> leaf, and a cut link stops them until restored', async () => {
    await using hub = await startHub();
    await using proxy = await startLinkProxy({ port: hub.leafPort });
    await using leaf = await startLeaf({ name: 'edge-01', hubLeafUrl: proxy.leafUrl });
    await waitFor(() => leafConnected(leaf.monitorUrl), { what: 'leaf link' });

    const hubNc = await connect({ servers: hub.url });
    const leafNc = await connect({ servers: leaf.url });
    try {
      const got: string[] = [];
      leafNc.subscribe('uplink.state.edge-01', { callback: (_e, m) => void got.push(m.string()) });
      await leafNc.flush();
      await waitFor(async () => {
        hubNc.publish('uplink.state.edge-01', 'one');
        await hubNc.flush();
        return got.length > 0;
      }, { what: 'interest to propagate' });

      proxy.cut();
      await waitFor(async () => !(await leafConnected(leaf.monitorUrl)), { what: 'leaf to notice the cut' });
      const before = got.length;
      hubNc.publish('uplink.state.edge-01', 'lost');
      await hubNc.flush();
      proxy.restore();
      await waitFor(() => leafConnected(leaf.monitorUrl), { what: 'leaf to reconnect' });
      expect(got.slice(before)).not.toContain('lost');
      expect(proxy.bytes.down).toBeGreaterThan(0);

      // the leaf must not have learned a way around the proxy: a second cut cuts too
      proxy.cut();
      await waitFor(async () => !(await leafConnected(leaf.monitorUrl)), { what: 'leaf to notice the second cut' });
      proxy.restore();
      await waitFor(() => leafConnected(leaf.monitorUrl), { what: 'leaf to reconnect again' });
    } finally {
      await hubNc.close();
      await leafNc.close();
    }
  });
});
