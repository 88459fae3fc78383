import { describe, expect, it } from 'vitest';
import { InProcessBus, Listener } from '../src/server/bus.js';

describe('Listener', () => {
  it('remembers a wake-up that came before the wait (a claim that was reading the store)', async () => {
    const bus = new InProcessBus();
    const heard = new Listener(bus, ['region:default']);
    bus.publish('region:default', { type: 'wake' });
    const started = Date.now();
    await heard.wait(10_000);
    expect(Date.now() - started).toBeLessThan(5_000);
    heard.close();
  });

  it('forgets what came before a reset, and wakes on what comes after', async () => {
    const bus = new InProcessBus();
    const heard = new Listener(bus, ['region:default', 'bridge:b1']);
    bus.publish('bridge:b1', { type: 'wake' });
    heard.reset();
    let woke = false;
    const waiting = heard.wait(10_000).then(() => {
      woke = true;
    });
    await new Promise((r) => setTimeout(r, 20));
    expect(woke).toBe(false);
    bus.publish('region:other', { type: 'wake' });
    await new Promise((r) => setTimeout(r, 20));
    expect(woke).toBe(false);
    bus.publish('region:default', { type: 'wake' });
    await waiting;
    expect(woke).toBe(true);
    heard.close();
    // Closed: no listeners left behind.
    expect(
      (bus as unknown as { emitter: { listenerCount(t: string): number } }).emitter.listenerCount(
        'bridge:b1',
      ),
    ).toBe(0);
  });

  it('ends the wait on abort or timeout', async () => {
    const heard = new Listener(new InProcessBus(), ['region:default']);
    const abort = new AbortController();
    const waiting = heard.wait(10_000, abort.signal);
    abort.abort();
    await waiting;
    await heard.wait(10);
    heard.close();
  });
});
