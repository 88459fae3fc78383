import { describe, expect, it } from 'vitest';
import { channelUrlArgs } from '../src/cli/main.js';

describe('create channel --url', () => {
  const argv = (...rest: string[]) => ['node', 'rediacc', ...rest];

  it('names the channel URL after create channel, in both spellings', () => {
    expect(
      channelUrlArgs(
        argv('create', 'channel', 'ops', '--type', 'webhook', '--url', 'https://hooks.example/a'),
      ),
    ).toEqual(
      argv('create', 'channel', 'ops', '--type', 'webhook', '--webhook-url', 'https://hooks.example/a'),
    );
    expect(channelUrlArgs(argv('create', 'channel', 'ops', '--url=https://h/b'))).toEqual(
      argv('create', 'channel', 'ops', '--webhook-url=https://h/b'),
    );
  });

  it('leaves the server URL before the command, and every other command, alone', () => {
    expect(
      channelUrlArgs(argv('--url', 'http://server:7400', 'create', 'channel', 'ops', '--url', 'https://h/c')),
    ).toEqual(
      argv('--url', 'http://server:7400', 'create', 'channel', 'ops', '--webhook-url', 'https://h/c'),
    );
    expect(channelUrlArgs(argv('create', 'task', '--url', 'http://s', '--machine', 'm'))).toEqual(
      argv('create', 'task', '--url', 'http://s', '--machine', 'm'),
    );
    expect(channelUrlArgs(argv('bridge', '--url', 'http://s'))).toEqual(argv('bridge', '--url', 'http://s'));
  });
});
