/** A test image's output is bounded in the worker's memory and in the step's log (issue 16, item 5). */
import { Readable } from 'node:stream';
import tarStream from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { extractTar } from '../../src/activities/containers';
import { LineSplitter } from '../../src/activities/test-containers';

const limits = { logBytes: 1000, lineBytes: 100 };

describe('LineSplitter', () => {
  it('passes ordinary output through line by line', () => {
    const lines: string[] = [];
    const split = new LineSplitter({ write: (l) => lines.push(l) }, limits);
    split.push('one\r\ntw');
    split.push('o\nthree');
    split.flush();
    expect(lines).toEqual(['one', 'two', 'three']);
  });

  it('cuts a line with no end instead of holding it, and stops keeping output past the log limit', () => {
    const lines: string[] = [];
    const split = new LineSplitter({ write: (l) => lines.push(l) }, limits);
    for (let i = 0; i < 100; i++) split.push('x'.repeat(50)); // 5,000 bytes without a newline
    for (let i = 0; i < 100; i++) split.push(`line ${i}\n`);
    split.flush();
    expect(lines.every((l) => l.length <= limits.lineBytes + 40)).toBe(true);
    expect(lines.slice(0, -1).reduce((n, l) => n + l.length + 1, 0)).toBeLessThanOrEqual(limits.logBytes);
    expect(lines.at(-1)).toMatch(/^\[stagecoach\] output truncated: \d+ more bytes after the first 1000 were not kept$/);
  });
});

function tarOf(files: Record<string, Buffer>): Readable {
  const pack = tarStream.pack();
  for (const [name, body] of Object.entries(files)) pack.entry({ name: `reports/${name}` }, body);
  pack.finalize();
  return pack as unknown as Readable;
}

describe('extractTar with a limit', () => {
  it('reads reports within the limit', async () => {
    const files = await extractTar(tarOf({ 'junit.xml': Buffer.from('<testsuite/>') }), { maxBytes: 1000, what: 'the reports' });
    expect(files.get('junit.xml')?.toString()).toBe('<testsuite/>');
  });

  it('fails, saying what to fix, on reports past the limit', async () => {
    await expect(extractTar(tarOf({ 'big.bin': Buffer.alloc(5000) }), { maxBytes: 1000, what: 'the reports in /out' }))
      .rejects.toMatchObject({ type: 'InvalidImage', message: 'the reports in /out exceed 1000 bytes: keep only the report files there' });
  });
});
