// Debian's Chromium: the browser the Experience Audit (contentAudit: Lighthouse, headless, on the worker) and the
// browser tests drive (DESIGN.md, "Browsers"). Nothing is ever downloaded by Playwright or Lighthouse themselves.
import { aptInstall } from './docker';
import { type Log, isDebian, isExecutableFile, isRoot, which, withLock } from './util';

/** Where Debian's `chromium` package puts the browser. */
export const DEBIAN_CHROMIUM = '/usr/bin/chromium';
/** Debian packages installed: the browser, and the font Chromium recommends (readable screenshots). */
export const CHROMIUM_PACKAGES = ['chromium', 'fonts-liberation'];

/** `STAGECOACH_CHROMIUM` if it names an executable, else Debian's /usr/bin/chromium, else `chromium` on PATH. */
export async function findChromium(): Promise<string | undefined> {
  const fromEnv = process.env.STAGECOACH_CHROMIUM;
  if (fromEnv && (await isExecutableFile(fromEnv))) return fromEnv;
  if (await isExecutableFile(DEBIAN_CHROMIUM)) return DEBIAN_CHROMIUM;
  return (await which('chromium')) ?? (await which('chromium-browser'));
}

/** What ensureChromium looks at and does; tests replace them to walk the missing and the install paths. */
export interface ChromiumHost {
  find: () => Promise<string | undefined>;
  /** Installing needs apt-get as root on Debian. */
  canInstall: () => boolean;
  install: (packages: string[], log: Log) => Promise<void>;
  envOverride: () => string | undefined;
  isExecutable: (file: string) => Promise<boolean>;
}

const THIS_MACHINE: ChromiumHost = {
  find: findChromium,
  canInstall: () => isDebian() && isRoot(),
  install: aptInstall,
  envOverride: () => process.env.STAGECOACH_CHROMIUM,
  isExecutable: isExecutableFile,
};

/**
 * Answers the path of a Chromium binary, installing Debian's `chromium` with apt-get when none is found and this is
 * Debian as root. Elsewhere: an error saying how to get one.
 */
export async function ensureChromium(log: Log, host: ChromiumHost = THIS_MACHINE): Promise<string> {
  const fromEnv = host.envOverride();
  if (fromEnv && !(await host.isExecutable(fromEnv))) {
    throw new Error(`STAGECOACH_CHROMIUM=${fromEnv} is not an executable file. Point it at a Chromium binary or unset it.`);
  }
  const found = await host.find();
  if (found) return found;
  if (!host.canInstall()) {
    throw new Error(
      'Chromium was not found. On Debian run `sudo apt-get install chromium` (or `sudo npm run provision -- --chromium`); ' +
        'elsewhere install Chromium and set STAGECOACH_CHROMIUM=/path/to/chromium. Playwright browser downloads are not used.',
    );
  }
  return withLock('apt-chromium', log, async () => {
    const again = await host.find(); // another run may have installed it meanwhile
    if (again) return again;
    log('Chromium not found; installing Debian\'s chromium (about 100 MB, once)');
    await host.install(CHROMIUM_PACKAGES, log);
    const installed = await host.find();
    if (!installed) throw new Error(`apt-get installed ${CHROMIUM_PACKAGES.join(' ')} but ${DEBIAN_CHROMIUM} was not found`);
    log(`installed ${installed}`);
    return installed;
  });
}

/**
 * The browser for the pipeline's Experience Audit, for `npm run demo` and `stagecoach dev`: found or installed, with a
 * progress line. Where it cannot be installed the audit still runs and says "not scored", so this warns with the fix
 * instead of stopping the demo.
 */
export async function provisionAuditBrowser(log: Log, host: ChromiumHost = THIS_MACHINE): Promise<string | undefined> {
  log('Chromium for the Experience Audit (contentAudit scores Stage with Lighthouse in headless Chromium)');
  try {
    const chromium = await ensureChromium(log, host);
    log(`Chromium: ${chromium}`);
    return chromium;
  } catch (err) {
    log(`warning: ${(err as Error).message} Until then contentAudit reports "not scored".`);
    return undefined;
  }
}
