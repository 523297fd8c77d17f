// Drives Debian's headless Chromium through chromedriver (W3C WebDriver over HTTP, no packages needed) to open
// Hawtio connected to a running Syncwarden and save a screenshot of a route diagram.
//   node tools/hawtio-screenshot.mjs <hawtio-url> <jolokia-host> <jolokia-port> <token> <route-id> <out.png>
import { writeFileSync } from 'node:fs';

const [hawtio, host, port, token, routeId, out] = process.argv.slice(2);
const driver = process.env.CHROMEDRIVER_URL || 'http://127.0.0.1:9515';
const chromium = process.env.SYNCWARDEN_CHROMIUM || '/usr/bin/chromium';

async function wd(method, path, body) {
  const response = await fetch(driver + path, {
    method, headers: { 'Content-Type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await response.json();
  if (json.value && json.value.error) throw new Error(path + ': ' + json.value.error + ': ' + json.value.message);
  return json.value;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Hawtio asks again in a Log In dialog when a request of its own met Jolokia's 401: answer it with the token
const LOGIN = `const dialog = [...document.querySelectorAll('.modal-dialog, .modal')].find(m => m.offsetParent !== null
    && m.textContent.includes('Log In'));
  if (!dialog) return false;
  const [user, password] = [dialog.querySelector('input[type=text], input:not([type])'), dialog.querySelector('input[type=password]')];
  if (!user || !password) return false;
  for (const [input, value] of [[user, 'hawtio'], [password, arguments[0]]]) {
    input.value = value; input.dispatchEvent(new Event('input', { bubbles: true })); input.dispatchEvent(new Event('change', { bubbles: true }));
  }
  const button = [...dialog.querySelectorAll('button')].find(b => b.textContent.trim() === 'Log In');
  button.click();
  return true;`;

async function answerLogin(session) {
  return wd('POST', `/session/${session}/execute/sync`, { script: LOGIN, args: [token] });
}

async function waitFor(session, script, what, timeoutMs = 60000) {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const value = await wd('POST', `/session/${session}/execute/sync`, { script, args: [] });
    if (value) return value;
    await sleep(500);
  }
  throw new Error('timed out waiting for ' + what);
}

const created = await wd('POST', '/session', {
  capabilities: { alwaysMatch: { browserName: 'chrome', 'goog:chromeOptions': {
    binary: chromium, args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--window-size=1400,1000'] } } },
});
const session = created.sessionId;
try {
  // the connection Hawtio's Connect tab would save, and the credentials its login dialog would keep
  await wd('POST', `/session/${session}/url`, { url: hawtio + '/' });
  await wd('POST', `/session/${session}/execute/sync`, {
    script: `localStorage.setItem('jvmConnect', JSON.stringify([{name: 'syncwarden', scheme: 'http', host: arguments[0],
      port: Number(arguments[1]), path: '/observe/jolokia', useProxy: true}]));
      sessionStorage.setItem('username', 'hawtio'); sessionStorage.setItem('password', arguments[2]); return true;`,
    args: [host, port, token],
  });
  await wd('POST', `/session/${session}/url`, { url: hawtio + '/camel/routes?con=syncwarden' });
  await sleep(3000);
  await answerLogin(session);
  await waitFor(session, `return document.body.innerText.includes(arguments[0]) || document.body.innerText.includes('${routeId}');`, 'the routes');
  // the route in Camel's tree, then its Route Diagram tab
  await waitFor(session, `const a = [...document.querySelectorAll('a, span, li')].find(e => e.textContent.trim() === '${routeId}');
    if (a) { a.click(); return true; } return false;`, 'the route ' + routeId);
  await sleep(1500);
  await waitFor(session, `const t = [...document.querySelectorAll('a')].find(e => e.textContent.trim() === 'Route Diagram');
    if (t) { t.click(); return true; } return false;`, 'the Route Diagram tab');
  await waitFor(session, `return document.querySelectorAll('svg .node, svg g.node, #canvas .node, .camel-diagram-node').length > 0
    || document.querySelectorAll('svg rect').length > 3;`, 'the diagram');
  await sleep(1000);
  if (await answerLogin(session)) {
    await sleep(3000);
  }
  await sleep(3000); // let the counters' first refresh land
  const png = await wd('GET', `/session/${session}/screenshot`);
  writeFileSync(out, Buffer.from(png, 'base64'));
  console.log('saved ' + out);
} catch (e) {
  const png = await wd('GET', `/session/${session}/screenshot`).catch(() => null);
  if (png) writeFileSync(out + '.failed.png', Buffer.from(png, 'base64'));
  console.error(e.message);
  process.exitCode = 1;
} finally {
  await wd('DELETE', `/session/${session}`).catch(() => {});
}
