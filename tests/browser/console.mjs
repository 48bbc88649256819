// Drives the programme team's console in Debian's headless Chromium, as a person would: signs
// in at the real OpenID Provider the test started (its own login and consent pages), then runs a
// season through the console's forms, checking after each step what the public page says and
// that the audit view names the person; axe-core (WCAG 2.2 A/AA) checks every console page it
// passes, on a phone (390 px) and on a desktop (1280 px). Run by the tests
// (tests/it/console_browser.rs).
//
// Usage: node console.mjs PLAN.json OUT_DIR
//   PLAN = {"base": "http://127.0.0.1:PORT", "login": "alice", "person": "Alice Admin",
//           "steps": ["organisation", …], "files": {"manifest": PATH, "csv_bad": PATH, …}}
// Prints one JSON object: each step's findings, and every page's axe violations.
//
// Nothing waits a fixed time: each action waits for the navigation or element it needs,
// bounded by WAIT_MS (WEXQS_BROWSER_WAIT_MS, 3 minutes unless set).
import {readFileSync} from 'node:fs';
import {createRequire} from 'node:module';
import {chromium} from 'playwright-core';

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const [planPath, outDir] = process.argv.slice(2);
const plan = JSON.parse(readFileSync(planPath, 'utf8'));
const WAIT_MS = Number(process.env.WEXQS_BROWSER_WAIT_MS) || 180_000;
const PHONE = {width: 390, height: 844};
const DESKTOP = {width: 1280, height: 900};

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  timeout: WAIT_MS,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--disable-dev-shm-usage'],
});
const context = await browser.newContext({viewport: PHONE, bypassCSP: true});
context.setDefaultTimeout(WAIT_MS);
context.setDefaultNavigationTimeout(WAIT_MS);
const page = await context.newPage();
const result = {steps: {}, pages: {}, signedIn: null};

// axe-core on the page as it is, on a phone and on a desktop; `name` keys the findings. (The
// context bypasses the pages' content security policy, which forbids injected scripts such as
// axe's; the Rust test checks the policy's header itself.)
async function audit(name) {
  const found = {};
  if (!(await page.evaluate(() => Boolean(window.axe)))) {
    await page.addScriptTag({content: axeSource});
  }
  for (const [size, viewport] of [['phone', PHONE], ['desktop', DESKTOP]]) {
    await page.setViewportSize(viewport);
    const violations = await page.evaluate(async () => {
      const r = await window.axe.run(document, {
        runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']},
      });
      return r.violations.map((v) => ({id: v.id, impact: v.impact,
        nodes: v.nodes.map((n) => n.target.join(' ')).slice(0, 5)}));
    });
    const layout = await page.evaluate(() => ({
      scrollWidth: document.documentElement.scrollWidth,
      clientWidth: document.documentElement.clientWidth,
    }));
    found[size] = {violations, layout};
  }
  await page.setViewportSize(PHONE);
  result.pages[name] = found;
}

async function go(path) {
  await page.goto(plan.base + path, {waitUntil: 'load'});
}

// The text of the main part of the page.
async function mainText() {
  return (await page.locator('main').innerText()).replace(/\s+/g, ' ');
}

// Submits the form that holds the button named `button`, after filling `fields` by label.
async function submit(button, fields = {}, within = page) {
  for (const [label, value] of Object.entries(fields)) {
    const field = within.getByLabel(label, {exact: false}).first();
    const tag = await field.evaluate((e) => e.tagName.toLowerCase());
    const type = await field.evaluate((e) => e.type || '');
    if (tag === 'select') {
      await field.selectOption(value);
    } else if (type === 'file') {
      await field.setInputFiles(value);
    } else if (type === 'checkbox' || type === 'radio') {
      if (value) { await field.check(); } else { await field.uncheck(); }
    } else {
      await field.fill(value);
    }
  }
  await Promise.all([
    page.waitForNavigation({waitUntil: 'load'}),
    within.getByRole('button', {name: button, exact: false}).first().click(),
  ]);
  return page.url();
}

// What the public page of an award says, read in a page of its own (no session needed).
async function publicVerdict(number) {
  const reader = await context.newPage();
  await reader.goto(`${plan.base}/verify/${number}`, {waitUntil: 'load'});
  const words = (await reader.locator('.verdict .words').innerText()).replace(/\s+/g, ' ');
  const text = (await reader.locator('main').innerText()).replace(/\s+/g, ' ');
  await reader.close();
  return {words, text};
}

// Whether the audit view names the person for the latest change.
async function auditNames() {
  await go('/console/audit');
  const first = await page.locator('main table tbody tr').first().innerText();
  return first.replace(/\s+/g, ' ');
}

// ---- Sign in at the provider, as a person would.
await go('/console');
await audit('sign-in');
await Promise.all([
  page.waitForURL((url) => !url.toString().startsWith(plan.base)),
  page.getByRole('link', {name: /Sign in with/}).click(),
]);
await page.fill('input[name=login]', plan.login);
await page.fill('input[name=password]', 'any password');
await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
await Promise.all([
  page.waitForURL((url) => url.toString().startsWith(plan.base)),
  page.click('button[type=submit]'),
]);
await page.waitForLoadState('load');
result.signedIn = await page.locator('header').innerText();
await audit('dashboard');

const steps = {
  // Registers an organisation through its form; its page's URL.
  async organisation(s) {
    await go('/console/organisations');
    await audit('organisations');
    s.url = await submit('Register', {'Name': plan.organisation.name,
      'ODS code': plan.organisation.ods_code, 'Region': plan.organisation.region});
    s.text = await mainText();
    await audit('organisation');
    s.audit = await auditNames();
  },
  // Issues an award to the organisation from its page; the award's number.
  async issue(s) {
    if (plan.issue_path) {
      await go(plan.issue_path);
    } else {
      await go(new URL(result.steps.organisation.url).pathname);
      await Promise.all([page.waitForNavigation(),
        page.getByRole('link', {name: 'Issue an award'}).click()]);
    }
    await audit('award-new');
    s.url = await submit('Issue the award', {'Level': plan.award.level,
      'Awarded on': plan.award.awarded_on});
    s.number = new URL(s.url).pathname.split('/').pop();
    await audit('award');
    s.public = await publicVerdict(s.number);
    s.audit = await auditNames();
  },
  async suspend(s) {
    const number = result.steps.issue.number;
    await go(`/console/awards/${number}`);
    const form = page.locator('form', {has: page.getByRole('button', {name: 'Suspend the award'})});
    s.url = await submit('Suspend the award', {'Public reason': plan.suspension.reason,
      'Private note': plan.suspension.note}, form);
    s.page = await mainText();
    s.public = await publicVerdict(number);
    s.audit = await auditNames();
  },
  async reinstate(s) {
    const number = result.steps.issue.number;
    await go(`/console/awards/${number}`);
    const form = page.locator('form', {has: page.getByRole('button', {name: 'Reinstate the award'})});
    s.url = await submit('Reinstate the award', {'Public reason': 'Review closed'}, form);
    s.public = await publicVerdict(number);
    s.audit = await auditNames();
  },
  async revoke(s) {
    const number = result.steps.issue.number;
    await go(`/console/awards/${number}`);
    const form = page.locator('form', {has: page.getByRole('button', {name: 'Revoke the award'})});
    s.url = await submit('Revoke the award', {'Public reason': 'Withdrawn by the programme',
      'Type the certificate number': number}, form);
    s.public = await publicVerdict(number);
    s.audit = await auditNames();
    await go('/console/awards');
    await audit('awards');
  },
};

for (const name of plan.steps) {
  const s = {};
  result.steps[name] = s;
  try {
    await steps[name](s);
  } catch (e) {
    s.error = String(e?.stack || e);
    await page.screenshot({path: `${outDir}/${name}.png`}).catch(() => {});
    break;
  }
}
await browser.close();
console.log(JSON.stringify(result));
