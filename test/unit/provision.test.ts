/**
 * Provisioning decisions that need no root, network or Docker: which Debian mirror this machine's apt sources name,
 * and what happens when Chromium is missing (found, installed, or an error that says how to get it).
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { debianMirror, mirrorFromSources, parseAptSources } from '../../src/provision/apt-sources';
import { ensureChromium, provisionAuditBrowser, type ChromiumHost } from '../../src/provision/chromium';

const DEB822 = `Types: deb
# a snapshot comment
URIs: http://mirror.example/debian/
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main
`;

describe('the Debian mirror from apt sources', () => {
  let aptDir: string;
  beforeAll(async () => {
    aptDir = await fs.mkdtemp(path.join(os.tmpdir(), 'sc-apt-'));
    await fs.mkdir(path.join(aptDir, 'sources.list.d'));
  });
  afterAll(() => fs.rm(aptDir, { recursive: true, force: true }));

  it('reads deb822 stanzas, skipping the security archive, other vendors and disabled stanzas', () => {
    const vendor = 'Types: deb\nURIs: https://vendor.example/apt\nSuites: nodistro\nComponents: main\n';
    const disabled = 'Types: deb\nEnabled: no\nURIs: http://old.example/debian\nSuites: bookworm\nComponents: main\n';
    const sources = [...parseAptSources('a.sources', vendor), ...parseAptSources('b.sources', disabled), ...parseAptSources('debian.sources', DEB822)];
    expect(mirrorFromSources(sources)).toBe('http://mirror.example/debian');
  });

  it('reads one-line entries with options, and falls back to another Debian release on the same mirror', () => {
    const list = '# deb http://commented.example/debian bookworm main\ndeb-src http://src.example/debian bookworm main\n' +
      'deb [arch=amd64 signed-by=/k.gpg] http://one.example/debian trixie main contrib\n';
    expect(mirrorFromSources(parseAptSources('sources.list', list))).toBe('http://one.example/debian');
    expect(mirrorFromSources(parseAptSources('x.list', 'deb http://ppa.example/ubuntu jammy main\n'))).toBeUndefined();
  });

  it('answers STAGECOACH_DEBIAN_MIRROR first, else the files apt reads; neither is an error naming what to set', async () => {
    await expect(debianMirror({ aptDir, env: {} })).rejects.toThrow(/no Debian mirror serving bookworm main.*Set STAGECOACH_DEBIAN_MIRROR=/s);
    await fs.writeFile(path.join(aptDir, 'sources.list.d', 'debian.sources'), DEB822);
    await fs.writeFile(path.join(aptDir, 'sources.list.d', 'ignored.list.disabled'), 'deb http://off.example/debian bookworm main\n');
    expect(await debianMirror({ aptDir, env: {} })).toBe('http://mirror.example/debian');
    expect(await debianMirror({ aptDir, env: { STAGECOACH_DEBIAN_MIRROR: 'http://own.example/debian/' } })).toBe('http://own.example/debian');
    await expect(debianMirror({ aptDir, env: { STAGECOACH_DEBIAN_MIRROR: 'own.example' } })).rejects.toThrow(/is not a mirror URL/);
  });
});

/** A machine without Chromium whose apt-get "installs" it when asked (if allowed to). */
function machineWithoutChromium(opts: { canInstall: boolean }) {
  const installs: string[][] = [];
  let installed: string | undefined;
  const host: ChromiumHost = {
    find: async () => installed,
    canInstall: () => opts.canInstall,
    install: async (packages) => {
      installs.push(packages);
      installed = '/usr/bin/chromium';
    },
    envOverride: () => undefined,
    isExecutable: async () => false,
  };
  return { host, installs };
}

describe('Chromium for the Experience Audit', () => {
  it('installs Debian\'s chromium when missing on Debian as root, once', async () => {
    const { host, installs } = machineWithoutChromium({ canInstall: true });
    const lines: string[] = [];
    expect(await provisionAuditBrowser((l) => lines.push(l), host)).toBe('/usr/bin/chromium');
    expect(await ensureChromium(() => undefined, host)).toBe('/usr/bin/chromium');
    expect(installs).toEqual([['chromium', 'fonts-liberation']]);
    expect(lines.join('\n')).toMatch(/Experience Audit[\s\S]*installing Debian's chromium[\s\S]*Chromium: \/usr\/bin\/chromium/);
  });

  it('where it cannot install, ensureChromium says how to get one and the demo path only warns', async () => {
    const { host, installs } = machineWithoutChromium({ canInstall: false });
    await expect(ensureChromium(() => undefined, host)).rejects.toThrow(/apt-get install chromium.*STAGECOACH_CHROMIUM=/s);
    const lines: string[] = [];
    expect(await provisionAuditBrowser((l) => lines.push(l), host)).toBeUndefined();
    expect(lines.at(-1)).toMatch(/^warning: Chromium was not found.*contentAudit reports "not scored"/);
    expect(installs).toEqual([]);
  });

  it('refuses a STAGECOACH_CHROMIUM that is not an executable', async () => {
    const { host } = machineWithoutChromium({ canInstall: true });
    await expect(ensureChromium(() => undefined, { ...host, envOverride: () => '/nope/chromium' })).rejects.toThrow(/STAGECOACH_CHROMIUM=\/nope\/chromium is not an executable/);
  });
});
