// `npm run provision` / `tsx src/provision/main.ts [--no-docker] [--no-temporal] [--compose] [--chromium]`: provisions
// this machine and prints one final "ready" line; on failure prints the error message (no stack) and exits 1.
// --compose: docker compose and the images docker-compose.yml cannot pull here; --chromium: Debian's chromium.
// STAGECOACH_DEBIAN_MIRROR names the Debian mirror the base image is built from (default: the one this machine's apt
// sources name); STAGECOACH_CHROMIUM a Chromium binary to use instead of Debian's.
import { provision } from './index';

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const accepted = ['--no-docker', '--no-temporal', '--compose', '--chromium'];
  const unknown = args.filter((a) => !accepted.includes(a));
  if (unknown.length > 0) throw new Error(`unknown argument(s): ${unknown.join(' ')} (accepted: ${accepted.join(', ')})`);
  const res = await provision({
    docker: !args.includes('--no-docker'), temporal: !args.includes('--no-temporal'),
    compose: args.includes('--compose'), chromium: args.includes('--chromium'),
  });
  const parts: string[] = [];
  if (res.temporalCli) parts.push(`temporal ${res.temporalCli} (v${res.temporalVersion ?? '?'})`);
  if (res.baseImage) parts.push(`docker ${res.dockerVersion ?? '?'}`, res.baseImage);
  if (res.compose) parts.push(`${res.compose} ${res.composeVersion ?? ''}`.trim());
  if (res.chromium) parts.push(res.chromium);
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
