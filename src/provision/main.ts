// `npm run provision` / `tsx src/provision/main.ts [--no-docker] [--no-temporal]`: provisions this machine and prints
// one final "ready" line; on failure prints the error message (no stack) and exits 1.
import { provision } from './index';

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const unknown = args.filter((a) => a !== '--no-docker' && a !== '--no-temporal');
  if (unknown.length > 0) throw new Error(`unknown argument(s): ${unknown.join(' ')} (accepted: --no-docker, --no-temporal)`);
  const res = await provision({ docker: !args.includes('--no-docker'), temporal: !args.includes('--no-temporal') });
  const parts: string[] = [];
  if (res.temporalCli) parts.push(`temporal ${res.temporalCli} (v${res.temporalVersion ?? '?'})`);
  if (res.baseImage) parts.push(`docker ${res.dockerVersion ?? '?'}`, res.baseImage);
  console.log(`[provision] ready: ${parts.join(', ') || 'nothing requested'}`);
}

// exitCode rather than process.exit(): lets piped stdout/stderr flush before the process ends.
main().then(
  () => {
    process.exitCode = 0;
  },
  (err: unknown) => {
    console.error(`[provision] error: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  },
);
