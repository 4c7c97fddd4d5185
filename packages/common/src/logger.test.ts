// Log correlation: fields of the current scope (request id, PNR, message and correlation ids) on
// every line written inside it, by any logger of the process, never written twice.
import { setImmediate } from 'node:timers/promises';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { addLogFields, createLogger, currentRequestId, runInLogScope, runInRequestScope } from './logger.ts';

function capture() {
  const raw: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      raw.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  return {
    logger: createLogger('test', 'info', stream),
    raw,
    lines: () => raw.map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

describe('log scope', () => {
  it('puts the scope fields on every line written inside it, by the root logger and its children', async () => {
    const { logger, lines } = capture();
    logger.info('before');
    await runInLogScope({ messageId: 'm-1', correlationId: '4123456789' }, async () => {
      logger.info('root');
      await setImmediate(); // a turn of the event loop: the scope must survive it
      logger.child({ component: 'consumer' }).warn('child, after an await');
    });
    logger.info('after');
    expect(lines().map((l) => [l.msg, l.messageId, l.correlationId])).toEqual([
      ['before', undefined, undefined],
      ['root', 'm-1', '4123456789'],
      ['child, after an await', 'm-1', '4123456789'],
      ['after', undefined, undefined],
    ]);
  });

  it('adds fields learnt inside the scope (a PNR) to the lines written after, and nests scopes', async () => {
    const { logger, lines } = capture();
    await runInRequestScope('req-1', async () => {
      expect(currentRequestId()).toBe('req-1');
      logger.info('reserving');
      await Promise.resolve();
      addLogFields({ pnr: '4000000001' });
      logger.info('reserved');
      runInLogScope({ messageId: 'm-2' }, () => logger.info('nested'));
      logger.info('back');
    });
    addLogFields({ pnr: 'outside' });
    logger.info('no scope');
    expect(lines().map((l) => [l.msg, l.requestId, l.pnr, l.messageId])).toEqual([
      ['reserving', 'req-1', undefined, undefined],
      ['reserved', 'req-1', '4000000001', undefined],
      ['nested', 'req-1', '4000000001', 'm-2'],
      ['back', 'req-1', '4000000001', undefined],
      ['no scope', undefined, undefined, undefined],
    ]);
  });

  it('never writes a key twice: a child binding or the log call itself wins over the scope', () => {
    const { logger, raw } = capture();
    runInLogScope({ requestId: 'scope-id', correlationId: 'c-1' }, () => {
      logger.child({ requestId: 'bound-id' }).info('bound');
      logger.info({ correlationId: 'explicit' }, 'explicit');
    });
    expect(raw).toHaveLength(2);
    expect(raw[0]!.match(/"requestId"/g)).toHaveLength(1);
    expect(JSON.parse(raw[0]!)).toMatchObject({ requestId: 'bound-id', correlationId: 'c-1' });
    expect(raw[1]!.match(/"correlationId"/g)).toHaveLength(1);
    expect(JSON.parse(raw[1]!)).toMatchObject({ requestId: 'scope-id', correlationId: 'explicit' });
  });
});
