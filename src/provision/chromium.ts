// Debian's Chromium for the browser tests (DESIGN.md, "Browsers"): playwright-core drives it headless; nothing is
// ever downloaded by Playwright itself. Installed only when asked (`provision({ chromium: true })`, `--chromium`).
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

/**
 * Answers the path of a Chromium binary, installing Debian's `chromium` with apt-get when none is found and this is
 * Debian as root. Elsewhere: an error saying how to get one.
 */
export async function ensureChromium(log: Log): Promise<string> {
  const fromEnv = process.env.STAGECOACH_CHROMIUM;
  if (fromEnv && !(await isExecutableFile(fromEnv))) {
    throw new Error(`STAGECOACH_CHROMIUM=${fromEnv} is not an executable file. Point it at a Chromium binary or unset it.`);
  }
  const found = await findChromium();
  if (found) return found;
  if (!isDebian() || !isRoot()) {
    throw new Error(
      'Chromium was not found (the browser tests drive it headless). On Debian run `sudo apt-get install chromium`; ' +
        'elsewhere install Chromium and set STAGECOACH_CHROMIUM=/path/to/chromium. Playwright browser downloads are not used.',
    );
  }
  return withLock('apt-chromium', log, async () => {
    const again = await findChromium(); // another run may have installed it meanwhile
    if (again) return again;
    log('Chromium not found; installing Debian\'s chromium (about 100 MB, once)');
    await aptInstall(CHROMIUM_PACKAGES, log);
    const installed = await findChromium();
    if (!installed) throw new Error(`apt-get installed ${CHROMIUM_PACKAGES.join(' ')} but ${DEBIAN_CHROMIUM} was not found`);
    log(`installed ${installed}`);
    return installed;
  });
}
