// Walks the registry's pages as people would, in Debian's headless Chromium, and checks each
// with axe-core (WCAG 2.2 A/AA rules). Run by the tests; writes screenshots to OUT_DIR.
//
// Usage: node check.mjs PLAN.json OUT_DIR
//   PLAN = {"base": "http://127.0.0.1:PORT",
//           "pages": [{"name": "...", "path": "/verify/…"}],          // phone-sized, read + axe
//           "search": {"query": "…", "expect": "XXXX-XXXX-XXXX-XXXX"}, // type, submit, follow
//           "widget": {"certificate": "…"},                           // embed from another origin
//           "snippets": {"certificate": "…"},  // paste the page's snippet boxes into another site
//           "embeds": [{"name": "...", "certificate": "…"}],  // each card framed at 360 x 240
//           "calendar": {"certificate": "…"}}  // tap "Add the expiry to your calendar"
// Prints one JSON object with what it read, how each page fits a phone's width, and every axe
// violation.
//
// It holds on a busy machine: nothing waits a fixed time. Each step waits for the thing it
// reads (a navigation, an element, a frame's content, a download), bounded by WAIT_MS overall
// (WEXQS_BROWSER_WAIT_MS, 3 minutes unless set), so a slow machine only makes it slower.
// Screenshots are for a person looking into a failure, and nothing is asserted of their pixels:
// each is of what the walk checked (the phone's screen, the card, the widget), never a whole long
// page at twice its pixels, and one that times out is taken once more before the walk fails.
import {readFileSync, writeFileSync} from 'node:fs';
import {createServer} from 'node:http';
import {createRequire} from 'node:module';
import {chromium} from 'playwright-core';

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const [planPath, outDir] = process.argv.slice(2);
const plan = JSON.parse(readFileSync(planPath, 'utf8'));
const WAIT_MS = Number(process.env.WEXQS_BROWSER_WAIT_MS) || 180_000;

// A browser context whose every wait (actions, navigations, downloads) has the walk's bound.
async function context(options) {
  const made = await browser.newContext(options);
  made.setDefaultTimeout(WAIT_MS);
  made.setDefaultNavigationTimeout(WAIT_MS);
  return made;
}

// A screenshot of a page or an element (a locator); one that times out is tried once more, since
// a busy machine can starve the compositor for a while.
async function shoot(target, path, options = {}) {
  const take = () => target.screenshot({path, animations: 'disabled', caret: 'hide',
    timeout: WAIT_MS / 2, ...options});
  try {
    await take();
  } catch (e) {
    if (e?.name !== 'TimeoutError') { throw e; }
    console.error(`screenshot ${path} timed out; taking it again`);
    await take();
  }
}

// A page on another origin (a careers site, a trust's own site), served from this process.
async function otherOrigin(html) {
  const server = createServer((req, res) => {
    res.writeHead(200, {'content-type': 'text/html'});
    res.end(html);
  });
  await new Promise(r => server.listen(0, '127.0.0.1', r));
  return {server, origin: `http://127.0.0.1:${server.address().port}`};
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  timeout: WAIT_MS,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--disable-dev-shm-usage'],
});
const result = {pages: {}, search: null, widget: null, snippets: null, embeds: {}, calendar: null};
const t0 = Date.now(); const mark = (what) => process.env.WEXQS_TRACE && console.error(what, Date.now() - t0);

async function audit(page) {
  // The pages' own CSP forbids injected scripts; the audit context bypasses it.
  await page.addScriptTag({content: axeSource});
  return page.evaluate(async () => {
    const r = await window.axe.run(document, {
      runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']},
    });
    return r.violations.map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.length,
      help: v.help, target: v.nodes[0]?.target}));
  });
}

// How a page fits its width: whether anything makes it scroll sideways, and the narrowest
// block of running text (a column squeezed to a few characters breaks words apart).
function layout() {
  const root = document.documentElement;
  let narrowest = null;
  for (const e of document.querySelectorAll('main p, main li, main dd, main dt, main h1, main h2, main h3, main h4')) {
    const r = e.getBoundingClientRect();
    // Buttons and menus are short by design; only running text needs a column.
    if (r.width === 0 || !e.textContent.trim() || e.closest('nav, .actions')) { continue; }
    if (!narrowest || r.width < narrowest.width) {
      narrowest = {width: Math.round(r.width), text: e.textContent.trim().slice(0, 60)};
    }
  }
  return {scrollWidth: root.scrollWidth, clientWidth: root.clientWidth, narrowest};
}

mark('launched');
try {
  const phone = await context({
    viewport: {width: 390, height: 844}, deviceScaleFactor: 2, isMobile: true, hasTouch: true,
    bypassCSP: true,
  });
  for (const {name, path} of plan.pages) {
    const page = await phone.newPage();
    // `goto` returns once the page has loaded: the pages are served whole, so what is read
    // below is there.
    const response = await page.goto(plan.base + path);
    const text = async selector => {
      const found = page.locator(selector).first();
      return (await found.count()) > 0 ? found.innerText() : null;
    };
    const verdict = await text('.verdict .words');
    const title = await page.title();
    const h1 = await text('h1');
    await shoot(page, `${outDir}/${name}.png`);  // the phone's first screen
    result.pages[name] = {status: response.status(), verdict, title, h1, layout: await page.evaluate(layout),
      violations: await audit(page)};
    await page.close();
  }

  mark('pages');
  if (plan.search) {
    const page = await phone.newPage();
    await page.goto(plan.base + '/');
    await page.getByLabel('Organisation, ODS code or certificate number').fill(plan.search.query);
    // The results page, once it has loaded (not the form's page, still there while it comes).
    await Promise.all([
      page.waitForURL(url => url.searchParams.get('q') === plan.search.query),
      page.getByRole('button', {name: 'Search'}).click(),
    ]);
    await page.locator('#results').waitFor();
    await shoot(page, `${outDir}/search.png`);
    const link = page.locator(`a[href="/verify/${plan.search.expect}"]`).first();
    const found = await link.count() > 0;
    let reached = null;
    if (found) {
      await Promise.all([
        page.waitForURL(url => url.pathname === `/verify/${plan.search.expect}`),
        link.click(),
      ]);
      reached = await page.locator('h1').first().innerText();
    }
    result.search = {found, reached, url: page.url()};
    await page.close();
  }

  mark('search');
  if (plan.widget) {
    // A page on another origin embeds the script widget.
    const html = `<!doctype html><html lang="en"><head><title>A careers site</title></head><body>
      <h1>Work experience at our partner</h1>
      <script src="${plan.base}/embed.js" data-certificate="${plan.widget.certificate}" async></script>
      </body></html>`;
    const {server, origin} = await otherOrigin(html);
    const desktop = await context({viewport: {width: 1024, height: 700}});
    const page = await desktop.newPage();
    await page.goto(origin + '/');
    // The script inserts its frame when it runs (async): wait for the card inside it.
    const widget = page.locator('iframe.wexqs-award');
    const text = await page.frameLocator('iframe.wexqs-award').locator('main').innerText();
    const size = await widget.boundingBox();
    await shoot(widget, `${outDir}/widget.png`);
    result.widget = {origin, text, width: size?.width, height: size?.height};
    await page.close();
    server.close();

    // The iframe card, framed by that other origin.
    const framing = await desktop.newPage();
    const frameHtml = `<!doctype html><html lang="en"><head><title>Framed</title></head><body>
      <iframe id="card" title="award" src="${plan.base}/embed/${plan.widget.certificate}" width="360" height="240"></iframe></body></html>`;
    const framed = await otherOrigin(frameHtml);
    await framing.goto(`${framed.origin}/`);
    const frame = framing.frameLocator('#card');
    result.iframe = {verdict: await frame.locator('.verdict .words').innerText().catch(e => `error: ${e.message}`),
      text: await frame.locator('main').innerText().catch(e => `error: ${e.message}`)};
    await shoot(framing.locator('#card'), `${outDir}/iframe.png`);
    framed.server.close();
  }
  mark('widget');
  if (plan.embeds) {
    // Each card in a frame of exactly the size the snippets and oEmbed suggest, on another
    // origin: the verdict and the link to the register must both be inside the frame.
    const desktop = await context({viewport: {width: 800, height: 400}});
    for (const {name, certificate} of plan.embeds) {
      const html = `<!doctype html><html lang="en"><head><title>Framed</title><style>body{margin:0}iframe{display:block;border:0}</style></head>
        <body><iframe id="card" title="award" src="${plan.base}/embed/${certificate}" width="360" height="240"></iframe></body></html>`;
      const {server, origin} = await otherOrigin(html);
      const page = await desktop.newPage();
      await page.goto(`${origin}/`);
      const frame = await (await page.waitForSelector('#card')).contentFrame();
      await frame.waitForSelector('main .verdict .words');
      const fit = await frame.evaluate(() => {
        const link = document.querySelector('a');
        const r = link.getBoundingClientRect();
        const main = document.querySelector('main').getBoundingClientRect();
        return {
          frame: {width: innerWidth, height: innerHeight},
          link: {text: link.innerText, top: r.top, bottom: r.bottom, left: r.left, right: r.right,
            visible: link.checkVisibility({checkOpacity: true, checkVisibilityCSS: true})},
          card: {bottom: main.bottom, right: main.right},
          verdict: document.querySelector('.verdict .words').innerText,
          text: document.querySelector('main').innerText,
        };
      });
      await shoot(page.locator('#card'), `${outDir}/embed-${name}.png`);
      result.embeds[name] = fit;
      await page.close();
      server.close();
    }
  }
  mark('embeds');
  if (plan.calendar) {
    // A parent taps the page's calendar link on a phone: the browser downloads the file.
    const tapper = await context({viewport: {width: 390, height: 844}, isMobile: true,
      hasTouch: true, acceptDownloads: true});
    const page = await tapper.newPage();
    await page.goto(`${plan.base}/verify/${plan.calendar.certificate}`);
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', {name: 'Add the expiry to your calendar'}).tap(),
    ]);
    result.calendar = {
      filename: download.suggestedFilename(),
      text: readFileSync(await download.path(), 'utf8'),
    };
    await tapper.close();
  }
  mark('calendar');
  if (plan.snippets) {
    // A site owner copies each snippet box of the verification page and pastes it into a page
    // of their own: whatever the organisation is called, only the snippet's own elements appear
    // and no script of the name's runs.
    const desktop = await context({viewport: {width: 1024, height: 900}});
    const page = await desktop.newPage();
    await page.goto(`${plan.base}/verify/${plan.snippets.certificate}`);
    const copied = {};
    for (const id of ['snippet-script', 'snippet-iframe', 'snippet-badge']) {
      copied[id] = await page.locator(`#${id}`).inputValue();
    }
    await page.close();
    const pasted = `<!doctype html><html lang="en"><head><title>A trust's own site</title></head><body>
      ${copied['snippet-script']}\n${copied['snippet-iframe']}\n${copied['snippet-badge']}</body></html>`;
    const {server, origin} = await otherOrigin(pasted);
    const site = await desktop.newPage();
    const dialogs = [];
    site.on('dialog', async d => { dialogs.push(d.message()); await d.dismiss(); });
    await site.goto(`${origin}/`);
    // Everything pasted has done what it does: the widget's script has inserted its frame, both
    // frames show their card, and every image has loaded or failed (an injected handler would
    // have run by then).
    await site.waitForFunction(() => document.querySelectorAll('iframe').length === 2
      && [...document.images].every(i => i.complete));
    for (const selector of ['iframe.wexqs-award', 'iframe:not(.wexqs-award)']) {
      await site.frameLocator(selector).locator('main .verdict .words').waitFor();
    }
    result.snippets = {
      copied,
      dialogs,
      handlers: await site.evaluate(() => [...document.querySelectorAll('*')]
        .flatMap(e => [...e.attributes].filter(a => a.name.startsWith('on')).map(a => `${e.tagName}[${a.name}]`))),
      scripts: await site.evaluate(() => [...document.querySelectorAll('script')].map(s => s.getAttribute('src'))),
      iframeTitles: await site.evaluate(() => [...document.querySelectorAll('iframe')].map(f => f.title)),
      images: await site.evaluate(() => [...document.querySelectorAll('img')].map(i => i.getAttribute('src'))),
    };
    await shoot(site, `${outDir}/snippets-pasted.png`);
    await site.close();
    server.close();
  }
} finally {
  await browser.close();
}
writeFileSync(`${outDir}/result.json`, JSON.stringify(result, null, 2));
console.log(JSON.stringify(result));
