// Headless Chromium for the end-to-end tests: Debian's `chromium` driven by
// the pinned playwright-core, with no background traffic (the machine's
// network is closed, and Chromium's own connections would be refused).
import { createRequire } from "node:module";

const root = new URL("../../", import.meta.url).pathname;

/** Where Chromium is: `$CHROMIUM`, else Debian's. */
export const CHROMIUM: string = Deno.env.get("CHROMIUM") ?? "/usr/bin/chromium";

/** Whether Chromium is installed. */
export const haveChromium: boolean = await Deno.stat(CHROMIUM).then(
  () => true,
  () => false,
);

/** A browser whose pages the test drives; `Page` is what the test uses of one. */
export interface Browser<Page> {
  newPage(): Promise<Page>;
  close(): Promise<void>;
}

interface Chromium {
  launchPersistentContext(userDataDir: string, options: {
    executablePath: string;
    headless: boolean;
    args: string[];
    timeout: number;
  }): Promise<Browser<never>>;
}

/** Starts headless Chromium with a profile in `profile` (a temp dir). */
export async function launchChromium<Page>(
  profile: string,
): Promise<Browser<Page>> {
  const { chromium } = createRequire(import.meta.url)(
    `${root}tools/node_modules/playwright-core`,
  ) as { chromium: Chromium };
  return await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    timeout: 30_000,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  }) as unknown as Browser<Page>;
}
