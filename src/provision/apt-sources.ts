// The Debian mirror the base image is built from: the one this machine's apt already uses (or STAGECOACH_DEBIAN_MIRROR),
// never a host written in the code, since a machine may reach only its own mirror.
import { promises as fsp } from 'node:fs';
import path from 'node:path';

/** The Debian release of DEFAULT_BASE_IMAGE (debian:bookworm-slim), which debootstrap builds. */
export const DEBIAN_SUITE = 'bookworm';
export const DEBIAN_MIRROR_ENV = 'STAGECOACH_DEBIAN_MIRROR';
const APT_DIR = '/etc/apt';
/** Debian's own release names: a host on another release still has a mirror that serves DEBIAN_SUITE. */
const DEBIAN_RELEASES = /^(oldstable|stable|testing|unstable|sid|bullseye|bookworm|trixie|forky)$/;

export interface AptSource {
  uris: string[];
  suites: string[];
  components: string[];
}

/** deb822 stanzas (`*.sources`): `Types: deb` ones that are not `Enabled: no`. */
function parseDeb822(text: string): AptSource[] {
  const sources: AptSource[] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    let last = '';
    for (const line of stanza.split('\n')) {
      if (line.startsWith('#') || !line.trim()) continue;
      const field = /^([\w-]+):\s*(.*)$/.exec(line);
      if (field) fields.set((last = field[1].toLowerCase()), field[2]);
      else if (last && /^\s/.test(line)) fields.set(last, `${fields.get(last)} ${line.trim()}`);
    }
    const words = (name: string) => (fields.get(name) ?? '').split(/\s+/).filter(Boolean);
    if (!words('types').includes('deb') || fields.get('enabled')?.trim().toLowerCase() === 'no') continue;
    sources.push({ uris: words('uris'), suites: words('suites'), components: words('components') });
  }
  return sources;
}

/** One-line entries (`sources.list`, `*.list`): `deb [options] URI suite component…`. */
function parseOneLine(text: string): AptSource[] {
  return text.split('\n').flatMap((line) => {
    const m = /^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s*(.*)$/.exec(line);
    return m ? [{ uris: [m[1]], suites: [m[2]], components: m[3].split(/\s+/).filter(Boolean) }] : [];
  });
}

/** The sources of one apt file, by its name: deb822 for `*.sources`, one-line otherwise. */
export function parseAptSources(fileName: string, text: string): AptSource[] {
  return fileName.endsWith('.sources') ? parseDeb822(text) : parseOneLine(text);
}

/**
 * The first http(s) or file URI serving `suite`'s main component; failing that, one serving main of another Debian
 * release (not `-security` or `-updates`, which live in other archives or lack the release itself).
 */
export function mirrorFromSources(sources: AptSource[], suite: string = DEBIAN_SUITE): string | undefined {
  const usable = (s: AptSource) => s.components.includes('main') && s.uris.some((u) => /^(https?|file):/.test(u));
  const pick = (s: AptSource) => s.uris.find((u) => /^(https?|file):/.test(u))!.replace(/\/+$/, '');
  const exact = sources.find((s) => usable(s) && s.suites.includes(suite));
  if (exact) return pick(exact);
  const release = sources.find((s) => usable(s) && s.suites.some((x) => DEBIAN_RELEASES.test(x)));
  return release && pick(release);
}

/** The files apt reads, in its order: sources.list, then sources.list.d's `*.list` and `*.sources` by name. */
async function aptSourceFiles(aptDir: string): Promise<string[]> {
  const dir = path.join(aptDir, 'sources.list.d');
  const names = await fsp.readdir(dir).catch(() => [] as string[]);
  return [path.join(aptDir, 'sources.list'), ...names.filter((n) => /\.(list|sources)$/.test(n)).sort().map((n) => path.join(dir, n))];
}

/**
 * The Debian mirror to debootstrap from: STAGECOACH_DEBIAN_MIRROR, else the one this machine's apt uses. Neither:
 * an error saying what to configure.
 */
export async function debianMirror(opts: { env?: NodeJS.ProcessEnv; aptDir?: string } = {}): Promise<string> {
  const fromEnv = (opts.env ?? process.env)[DEBIAN_MIRROR_ENV]?.trim();
  if (fromEnv) {
    if (!/^(https?|file):\/\/\S+$/.test(fromEnv)) {
      throw new Error(`${DEBIAN_MIRROR_ENV}=${fromEnv} is not a mirror URL: give one such as http://<mirror host>/debian`);
    }
    return fromEnv.replace(/\/+$/, '');
  }
  const aptDir = opts.aptDir ?? APT_DIR;
  const files = await aptSourceFiles(aptDir);
  const sources: AptSource[] = [];
  for (const file of files) sources.push(...parseAptSources(file, await fsp.readFile(file, 'utf8').catch(() => '')));
  const mirror = mirrorFromSources(sources);
  if (mirror) return mirror;
  throw new Error(
    `no Debian mirror serving ${DEBIAN_SUITE} main was found in this machine's apt sources (${path.join(aptDir, 'sources.list')}, ` +
      `${path.join(aptDir, 'sources.list.d')}/*.sources or *.list), and the base image is built from one. ` +
      `Set ${DEBIAN_MIRROR_ENV}=http://<your Debian mirror>/debian, or add the mirror to apt's sources.`,
  );
}
