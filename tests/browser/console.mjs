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

// Submits the form that holds the button named `button` (within `scope`, the whole page unless
// given), after filling its `fields` by label.
async function submit(button, fields = {}, scope = page) {
  const within = scope !== page ? scope : page.locator('form',
    {has: page.getByRole('button', {name: button, exact: false})}).first();
  for (const [label, value] of Object.entries(fields)) {
    // A field by its label's words, or by a CSS selector (`#id`) where two labels read alike.
    const field = label.startsWith('#') ? within.locator(label)
      : within.getByLabel(label, {exact: false}).first();
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

// What the public page of an award says, as a member of the public reads it.
async function publicVerdict(number) {
  // A visitor of its own: no cookie, and none of the console's cache (the page may be cached
  // for a minute, as the public may have it; a new visitor reads it fresh).
  const visitor = await browser.newContext({viewport: PHONE});
  const reader = await visitor.newPage();
  await reader.goto(`${plan.base}/verify/${number}`, {waitUntil: 'load'});
  const words = (await reader.locator('.verdict .words').innerText()).replace(/\s+/g, ' ');
  const text = (await reader.locator('main').innerText()).replace(/\s+/g, ' ');
  await visitor.close();
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

// The form on the page whose heading (h3) is `title`.
function formTitled(title) {
  return page.locator('form', {has: page.getByRole('heading', {name: title, exact: true})});
}

const steps = {
  // The console's other pages, each looked at and checked.
  async pages(s) {
    s.seen = [];
    for (const [name, path] of [['staff', '/console/staff'], ['audit', '/console/audit'],
      ['integrations', '/console/integrations'], ['awards', '/console/awards']]) {
      await go(path);
      await audit(name);
      s.seen.push(name);
    }
  },
  // Resumes the programme from a day, through the preview of its effect.
  async resume(s) {
    await go('/console/programme');
    await audit('programme');
    await submit('See the effect', {'From': plan.resume.from,
      'Public reason': plan.resume.reason}, formTitled('Resume the programme'));
    s.preview = await mainText();
    await audit('programme-preview');
    s.url = await submit('Confirm');
    s.page = await mainText();
    s.audit = await auditNames();
  },
  // Schedules a cycle.
  async cycle(s) {
    await go('/console/cycles');
    await audit('cycles');
    const c = plan.cycle;
    s.url = await submit('Schedule the cycle', {'Cycle id': c.cycle_id, 'Name': c.name,
      'Open on': c.submissions_open_on, 'Deadline': c.submission_deadline,
      '#review-from': c.review_from, '#review-until': c.review_until,
      '#decisions-from': c.decisions_from, '#decisions-until': c.decisions_until});
    s.page = await mainText();
    s.audit = await auditNames();
  },
  // A CSV with a bad row (shown, nothing added), then fixed (added), then the same file again
  // (nothing added).
  async import(s) {
    await go('/console/import');
    await audit('import');
    await submit('Check the file', {'CSV file': plan.files.csv_bad});
    s.bad = await mainText();
    await audit('import-bad');
    await go('/console/import');
    await submit('Check the file', {'CSV file': plan.files.csv_good});
    s.good = await mainText();
    await audit('import-preview');
    await submit('Confirm');
    s.done = await mainText();
    await go('/console/import');
    await submit('Check the file', {'CSV file': plan.files.csv_good});
    s.again = await mainText();
    s.audit = await auditNames();
  },
  // Registers an organisation through its form; its page's URL.
  async organisation(s) {
    await go('/console/organisations');
    await audit('organisations');
    const o = plan.organisation;
    s.url = await submit('Register the organisation', {'Name': o.name, 'ODS code': o.ods_code,
      'Region': o.region, 'Kind of organisation': o.kind});
    s.path = new URL(s.url).pathname;
    s.page = await mainText();
    await audit('organisation');
    s.audit = await auditNames();
  },
  // Records the drop-in session the organisation attended.
  async dropin(s) {
    await go(result.steps.organisation.path);
    s.url = await submit('Record the session', {'Day of the session': plan.drop_in},
      formTitled('Record a drop-in session'));
    s.page = await mainText();
    s.audit = await auditNames();
    // The form that issues an award by hand, from the organisation's page (looked at only).
    await go(result.steps.organisation.path);
    await Promise.all([page.waitForNavigation(),
      page.getByRole('link', {name: 'Issue an award'}).click()]);
    await audit('award-new');
  },
  // Submits its application with the evidence manifest uploaded as a file.
  async application(s) {
    await go(result.steps.organisation.path);
    await Promise.all([page.waitForNavigation(),
      page.getByRole('link', {name: 'Submit an application'}).click()]);
    await audit('application-new');
    s.url = await submit('Submit the application', {'Cycle': plan.cycle.cycle_id,
      'Level sought': plan.application.level, 'Evidence manifest': plan.files.manifest});
    s.path = new URL(s.url).pathname;
    s.page = await mainText();
    await audit('application');
    await go('/console/applications');
    s.queue = await mainText();
    await audit('applications');
    s.audit = await auditNames();
  },
  // Decides it: awarded, which issues the award at once; the award's number.
  async decision(s) {
    await go(result.steps.application.path);
    await page.locator('#decision-awarded').check();
    s.url = await submit('Record the decision', {'Level, when awarded': plan.application.level,
      'Written feedback': plan.application.feedback});
    s.page = await mainText();
    await go(result.steps.organisation.path);
    const link = page.locator('main a[href*="/console/awards/"]').first();
    s.number = (await link.getAttribute('href')).split('/').pop();
    result.award = s.number;
    s.public = await publicVerdict(s.number);
    s.audit = await auditNames();
  },
  async suspend(s) {
    const number = result.award;
    await go(`/console/awards/${number}`);
    await audit('award');
    const form = page.locator('form', {has: page.getByRole('button', {name: 'Suspend the award'})});
    s.url = await submit('Suspend the award', {'Public reason': plan.suspension.reason,
      'Private note': plan.suspension.note}, form);
    s.page = await mainText();
    s.public = await publicVerdict(number);
    s.audit = await auditNames();
  },
  async reinstate(s) {
    const number = result.award;
    await go(`/console/awards/${number}`);
    const form = page.locator('form', {has: page.getByRole('button', {name: 'Reinstate the award'})});
    s.url = await submit('Reinstate the award', {'Public reason': 'Review closed'}, form);
    s.public = await publicVerdict(number);
    s.audit = await auditNames();
  },
  async revoke(s) {
    const number = result.award;
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
