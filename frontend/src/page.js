// The module page's front end: shows the outputs Voilà streamed into the page and connects their widgets
// to the page's kernel; one small bundle in place of Voilà's JupyterLab application.
import * as base from '@jupyter-widgets/base';
import * as controls from '@jupyter-widgets/controls';
import { ManagerBase } from '@jupyter-widgets/base-manager';
import { KernelConnection } from '@jupyterlab/services/lib/kernel/default';
import { ServerConnection } from '@jupyterlab/services/lib/serverconnection';
import { Widget } from '@lumino/widgets';
import '@jupyter-widgets/controls/css/widgets-base.css';

let lastId = 0;

/** The id of a view's description label, given one if it has none; null if the view has no description. */
function labelId(view) {
  if (!view.model.get('description')) return null;
  view.label.id ||= `allies-label-${++lastId}`;
  return view.label.id;
}

/** `View` with its options' holder (`this[part]`) given an ARIA role, named by the view's label when it has
 *  one, and each option (a button or a radio) passed to `mark(option, view)` after every update. */
function grouped(View, part, role, mark) {
  return class extends View {
    render() {
      super.render();
      this[part].setAttribute('role', role);
      const label = labelId(this);
      if (label) this[part].setAttribute('aria-labelledby', label);
    }

    update(options) {
      const result = super.update(options);
      this[part].querySelectorAll('button, input[type=radio]').forEach((option) => mark(option, this));
      return result;
    }
  };
}

/** ipywidgets' controls, with what assistive technology needs and the stock views leave out. */
const ACCESSIBLE = {
  /** A slider named by its label, whose value is read out as shown ("2025"), not as its index ("7"). Its
   *  readout shows the value and no more: ipywidgets makes it an editable field, reached by Tab, unnamed, that
   *  takes nothing typed into it (a selection slider has no handler for it). */
  SelectionSliderView: class extends controls.SelectionSliderView {
    update(options) {
      const result = super.update(options);
      this.readout.contentEditable = 'false';
      this.readout.setAttribute('aria-hidden', 'true');  // (the handle says the same, as its value)
      return result;
    }

    createSlider() {
      super.createSlider();
      const handle = this.$slider.querySelector('.noUi-handle');
      const label = labelId(this);
      if (label) handle.setAttribute('aria-labelledby', label);
      this.$slider.noUiSlider.on('update.allies', (values) => {
        const shown = this.model.get('_options_labels')[Math.round(Number(values[0]))];
        if (shown !== undefined) handle.setAttribute('aria-valuetext', shown);
      });
    }
  },
  /** Buttons that say which one is pressed, in a group named by the label. */
  ToggleButtonsView: grouped(controls.ToggleButtonsView, 'buttongroup', 'group', (button) =>
    button.setAttribute('aria-pressed', String(button.classList.contains('mod-active')))),
  /** Radios in one named group: Tab reaches the group once, the arrow keys move within it. */
  RadioButtonsView: grouped(controls.RadioButtonsView, 'container', 'radiogroup', (radio, view) => {
    view.groupName ||= `allies-radio-${++lastId}`;
    radio.name = view.groupName;
  }),
};

const MODULES = {
  '@jupyter-widgets/base': base,
  '@jupyter-widgets/controls': { ...controls, ...ACCESSIBLE },
};
const WIDGET = 'application/vnd.jupyter.widget-view+json';

/** ipywidgets' manager, talking to one running kernel over its websocket. */
class KernelWidgetManager extends ManagerBase {
  constructor(kernel) {
    super();
    this.kernel = kernel;
    kernel.registerCommTarget(this.comm_target_name, (comm, msg) =>
      this.handle_comm_open(new base.shims.services.Comm(comm), msg));
  }

  async loadClass(className, moduleName) {
    const module = MODULES[moduleName];
    if (!module || !module[className]) {
      throw new Error(`this page cannot show ${className} from ${moduleName}`);
    }
    return module[className];
  }

  async _create_comm(target, modelId, data, metadata, buffers) {
    const comm = this.kernel.createComm(target, modelId);
    if (data || metadata) {
      comm.open(data, metadata, buffers);
    }
    return new base.shims.services.Comm(comm);
  }

  async _get_comm_info() {
    const reply = await this.kernel.requestCommInfo({ target_name: this.comm_target_name });
    return reply.content.status === 'ok' ? reply.content.comms : {};
  }

  async display_view(view, el) {
    Widget.attach((await view).luminoWidget, el);
  }

  load() {
    return this._loadFromKernel();
  }

  /** Catches up after the page's socket dropped, taking with it whatever was in flight: a change the kernel
   *  never heard, or its answer. ipywidgets holds a control's next change back until the kernel's "idle" for
   *  the last one, so a lost "idle" would leave the control silent for good. Each widget sends again the
   *  changes the kernel has not confirmed, or that were held back; then all take the kernel's state. */
  async resume() {
    for (const model of await Promise.all(Object.values(this._models))) {
      const unconfirmed = new Set([...model._expectedEchoMsgIds.keys(), ...Object.keys(model._msg_buffer ?? {})]);
      Object.assign(model, { _pending_msgs: 0, _msg_buffer: null, _msg_buffer_callbacks: null });
      model._expectedEchoMsgIds.clear();
      const again = Object.fromEntries([...unconfirmed].map((name) => [name, model.get(name)]));
      if (unconfirmed.size) model.save(again, { patch: true });
    }
    await this._loadFromKernel();
  }
}

/** Puts a live widget (`view`) in the place of its first view (the HTML the page came with, shown until now),
 *  once drawn; an explorer is handed what the learner picked there, and the keyboard focus moves to the same
 *  control (the first view's other controls are disabled). */
async function handOver(first, view, node) {
  const controls = view.model.get('children') ?? [];
  const focused = first.contains(document.activeElement) ? document.activeElement.dataset.control : undefined;
  first.querySelectorAll('select[data-control]').forEach((select) => {
    const control = controls[Number(select.dataset.control)];
    const index = select.value === '' ? null : Number(select.value);
    if (control && index !== control.get('index')) {
      control.set('index', index);
      control.save_changes();
    }
  });
  const shown = await Promise.all(view.children_views?.views ?? []);  // each child's view, once drawn
  node.hidden = false;
  first.remove();
  if (focused !== undefined) shown[Number(focused)]?.el.querySelector('select, input, button, [tabindex]')?.focus();
}

/** A choice made in a first view before its widget is live: the chart below it is not that choice's, so it
 *  makes way for a note until the widget, handed the choice, draws it. */
function watchFirstViews() {
  document.addEventListener('change', (event) => {
    const chart = event.target.closest?.('.allies-first-view-host')?.querySelector('.allies-first-view-chart');
    if (chart) chart.innerHTML = '<p role="status" class="allies-pending">Drawing this view…</p>';
  });
}

/** A widget output (the page as sent carries every other output rendered), shown live on the kernel. */
async function show(script, manager, loaded) {
  const model = JSON.parse(script.textContent).data[WIDGET].model_id;
  const node = document.createElement('div');
  node.className = 'jp-OutputArea-output';
  const first = script.previousElementSibling?.classList.contains('allies-first-view-host')
    ? script.previousElementSibling : null;
  node.hidden = first !== null;
  script.replaceWith(node);
  await loaded;
  const view = await manager.create_view(await manager.get_model(model));
  await manager.display_view(view, node);
  if (first) await handOver(first, view, node);
}

/** Shows `text` in the note at the top of the page (an ARIA alert); no text removes the note. */
function notice(text) {
  let note = document.getElementById('allies-connection');
  if (!text) {
    note?.remove();
    return;
  }
  if (!note) {
    note = document.createElement('p');
    note.id = 'allies-connection';
    note.setAttribute('role', 'alert');
    document.body.prepend(note);
  }
  note.textContent = text;
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

/** Length and CRC-32 of a text's UTF-16 code units, as `course.lesson.widgets.fingerprint` computes them. */
function fingerprint(text) {
  let crc = 0xffffffff;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    crc = CRC_TABLE[(crc ^ unit) & 0xff] ^ (crc >>> 8);
    crc = CRC_TABLE[(crc ^ (unit >>> 8)) & 0xff] ^ (crc >>> 8);
  }
  return `${text.length}-${((crc ^ 0xffffffff) >>> 0).toString(16).padStart(8, '0')}`;
}

/** Whether the UTF-16 code unit `c` is whitespace to Python's `str.split`, which the kernel's word count
 *  uses (`course.lesson.validation.reflection`). */
const isSpace = (c) => (c >= 9 && c <= 13) || (c >= 28 && c <= 32) || c === 0x85 || c === 0xa0 ||
  c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f ||
  c === 0x205f || c === 0x3000;

/** How many words `text` has, as the kernel counts them (`len(text.split())`), without splitting it. */
function wordCount(text) {
  let words = 0;
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const space = isSpace(text.charCodeAt(i));
    if (!space && !inWord) words++;
    inWord = !space;
  }
  return words;
}

const inWords = (bytes) => (bytes >= 1024 * 1024 ? `${+(bytes / 1024 / 1024).toFixed(1)} MiB`
  : `${Math.ceil(bytes / 1024)} KiB`);

/** The kernel says when an answer was saved in UTC ("Saved at 14:03:12 UTC."): the page shows the learner's
 *  own time. The save was a moment ago, so the time is today's, or yesterday's just after midnight. */
const SAVED_UTC = /^Saved at (\d\d:\d\d:\d\d) UTC\.$/;
function localTime(hms) {
  const [h, m, s] = hms.split(':').map(Number);
  const now = new Date();
  const at = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate(), h, m, s));
  if (at - now > 60 * 60 * 1000) at.setUTCDate(at.getUTCDate() - 1);
  return at.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

/** A moment the kernel writes in UTC (`<time class="allies-utc">`, `course.lesson.markup.moment`: the feedback's
 *  head, the dashboard's), said in the reader's own time zone, named; the element keeps the moment (datetime). */
function localTimes() {
  const say = () => document.querySelectorAll('time.allies-utc').forEach((time) => {
    const at = new Date(time.dateTime);
    time.classList.remove('allies-utc');
    if (Number.isNaN(at.getTime())) return;
    time.textContent = at.toLocaleString([], {
      year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', timeZoneName: 'short',
    });
  });
  say();
  new MutationObserver(say).observe(document.body, { subtree: true, childList: true });
}

/** Keeps every answer's "Saved" line true. A text over the store's limit is refused here, before it is
 *  sent (a websocket message over 10 MiB would cut the page off its kernel), and the page counts its words
 *  in place of the kernel, which no longer hears of it; a box says "Saved" only while its text is the one
 *  the kernel reports saved; otherwise "Saving…", or "Not saved yet" when the page has lost its connection
 *  or the kernel has not confirmed the text for a few seconds. */
class SaveWatch {
  static SLOW_MS = 5000;

  constructor(maxBytes) {
    this.maxBytes = maxBytes;
    this.connected = true;
    this.edited = new Map();  // answer box -> when its text was last typed (a textarea's input or change)
    this.unsavedSince = new Map();  // answer box -> when the page first saw it unsaved since it was last saved
    this.tooLarge = new Map();  // answer box -> { bytes, words } of the text refused
    this.fingerprints = new Map();  // answer box -> [text, its fingerprint]
    // A choice box -> its status line when a choice was made there, until the kernel replaces that line: a
    // choice the kernel never heard of (a stalled kernel, a lost socket) left the old "Saved" standing.
    this.chosen = new Map();
    for (const type of ['input', 'change', 'click']) {
      document.addEventListener(type, (event) => this.edit(event), true);
    }
    new MutationObserver(() => this.refreshAll()).observe(document.body, {
      subtree: true, childList: true, characterData: true,
    });
    setInterval(() => this.refreshAll(), 1000);
  }

  setConnected(connected) {
    this.connected = connected;
    this.refreshAll();
  }

  size(text) {
    if (text.length > this.maxBytes || text.length * 3 <= this.maxBytes) return text.length;
    return new TextEncoder().encode(text).length;
  }

  edit(event) {
    if (event.type === 'click' && this.holdLastStep(event)) return;
    const box = event.target.closest?.('.allies-answer');
    if (!box) return;
    // A choice: a click on a button not yet pressed, or a radio's or a list's change (each sends a new value).
    const choice = event.type === 'click'
      ? event.target.closest('.widget-toggle-button:not(.mod-active):not(:disabled)')
      : event.type === 'change' && event.target.matches('input[type=radio], select');
    const shown = choice && box.querySelector('.allies-saved [role=status]');
    if (shown) this.chosen.set(box, shown);
    if (event.type === 'click') return;
    const bytes = event.target.tagName === 'TEXTAREA' ? this.size(event.target.value) : 0;
    if (bytes > this.maxBytes) {
      event.stopImmediatePropagation();  // ipywidgets never hears of it, so nothing is sent
      this.tooLarge.set(box, { bytes, words: wordCount(event.target.value) });
    } else {
      this.tooLarge.delete(box);
      this.edited.set(box, Date.now());
    }
    this.refresh(box);
  }

  /** A click on a module's last step (Submit, or the copy of one's answers) while an answer on the page is
   *  over the limit: that answer is not saved, so the kernel would hand in (or copy) its older saved text. The
   *  page keeps the click from the kernel, says why under the button, and takes the learner to the answer. */
  holdLastStep(event) {
    const button = event.target.closest?.('.allies-submit button');
    const over = [...this.tooLarge.keys()].find((box) => box.isConnected);
    if (!button || !over) return false;
    event.stopImmediatePropagation();
    event.preventDefault();
    const line = button.closest('.allies-submit').querySelector('[role=status]');
    if (line) {
      line.textContent = `Not yet: an answer on this page is over the limit of ${inWords(this.maxBytes)}, so ` +
        'it is not saved, and its older saved text would be used instead. Shorten it first: it is the box ' +
        'that says "Not saved".';
      line.classList.add('allies-problem');
    }
    over.querySelector('textarea')?.focus();
    return true;
  }

  fingerprintOf(box, text) {
    const [known, print] = this.fingerprints.get(box) ?? [];
    if (known === text) return print;
    this.fingerprints.set(box, [text, fingerprint(text)]);
    return this.fingerprints.get(box)[1];
  }

  refreshAll() {
    document.querySelectorAll('.allies-answer').forEach((box) => this.refresh(box));
  }

  /** The line under an answer over the limit: the kernel's (a reflection's word count) stays as it was when
   *  the kernel last heard of the text, so the page hides it and says the word count itself, and that the
   *  answer is not saved; back under the limit, the kernel's line returns, up to date. */
  refreshCount(box) {
    const over = this.tooLarge.get(box);
    const kernels = [...box.querySelectorAll(':scope > .widget-html')]
      .find((el) => !el.querySelector('.allies-saved'));
    let line = box.querySelector(':scope > .allies-count');
    if (kernels) kernels.style.display = over ? 'none' : '';  // (a widget's own style would beat `hidden`)
    if (!over) {
      line?.remove();
      return;
    }
    if (!line) {
      line = document.createElement('p');
      line.className = 'allies-count allies-status allies-problem';
      line.setAttribute('role', 'status');
      if (kernels) kernels.after(line);
      else box.querySelector(':scope > .widget-textarea')?.after(line);
    }
    const count = `${over.words.toLocaleString('en')} word${over.words === 1 ? '' : 's'}`;
    const say = `${count}. This answer is over the limit of ${inWords(this.maxBytes)}, so it will not be ` +
      'saved until it is shorter.';
    if (line.textContent !== say) line.textContent = say;
  }

  refresh(box) {
    this.refreshCount(box);
    const line = box.querySelector('.allies-saved');
    const shown = line?.querySelector('[role=status]');
    const ours = shown?.dataset.page === 'said';
    const utc = shown?.textContent.match(SAVED_UTC);
    if (utc) shown.textContent = `Saved at ${localTime(utc[1])}.`;
    if (!shown || !(ours || line.dataset.ok === 'yes' || this.tooLarge.has(box))) {
      return;  // the kernel is saying something is wrong (it could not save, say): leave its words
    }
    const field = box.querySelector('textarea');
    if (this.chosen.has(box) && this.chosen.get(box) !== shown) this.chosen.delete(box);  // the kernel answered
    let unsaved = ours || shown.textContent.startsWith('Saving') || this.chosen.has(box);
    if (field && !this.tooLarge.has(box)) {  // a text over the limit is never sent: no need to fingerprint it
      const saved = line.dataset.saved;
      unsaved = saved ? saved !== this.fingerprintOf(box, field.value) : field.value !== '';
    }
    // Slow: unconfirmed for SLOW_MS since the last edit, or since the page saw the answer unsaved (a click on a
    // choice fires no input event: counted from the last edit alone, each click was "slow" at once).
    if (!unsaved) this.unsavedSince.delete(box);
    else if (!this.unsavedSince.has(box)) this.unsavedSince.set(box, Date.now());
    const since = Math.max(this.edited.get(box) ?? 0, this.unsavedSince.get(box) ?? 0);
    const waiting = Date.now() - since > SaveWatch.SLOW_MS;
    let say = null;
    const over = this.tooLarge.get(box);
    if (over) {
      say = `Not saved: this answer is ${inWords(over.bytes)}, and an answer can hold at most ` +
        `${inWords(this.maxBytes)}. Shorten it to save it; until then nothing typed here is sent.`;
    } else if (unsaved && !this.connected) {
      say = 'Not saved yet: this page has lost its connection to the course server.';
    } else if (unsaved && waiting) {
      say = 'Not saved yet: the course server has not confirmed this answer for a few seconds. Keep this ' +
        (field ? 'page open, and keep a copy of your text until this says "Saved".'
          : 'page open until this says "Saved".');
    } else if (unsaved) {
      say = 'Saving…';
    }
    if (say !== null && shown.textContent !== say) {
      shown.textContent = say;
      shown.dataset.page = 'said';
      shown.style.color = say === 'Saving…' ? '#1b5e20' : '#8a1c1c';
    }
  }
}

const COPY = 'Copy anything typed since the last "Saved at"';
const GONE = 'so this page\'s session has ended and nothing typed here now is saved. Your saved answers ' +
  'are kept.';
/** What the page says when its session ended, by why, when the server says (`course.web.connections`). */
const ENDED_BY = {
  'signed-out': `You signed out (in this tab, another tab or another device), ${GONE} ${COPY}, then reload ` +
    'the page to sign in again.',
  'new-code': `Your facilitator has set a new sign-in code for you, ${GONE} ${COPY}, then reload the page ` +
    'and sign in with your new code; your facilitator can give it to you.',
  withdrawn: `You are no longer on this course's roster, ${GONE} ${COPY}, and ask your facilitator if you ` +
    'think this is a mistake.',
};
const ENDED = 'This page\'s session has ended (the course server restarted, the module stopped, or it was ' +
  `opened again in another tab). ${COPY}, then reload the page: your saved answers will come back.`;

/** Says, at the top of the page, when it cannot reach its kernel, so that no one types into the void. A
 *  kernel that died, was restarted blank by the server, was replaced by the same module opened again, or
 *  ended with the learner's session has ended for good: the page says so, and why when the server said it
 *  (in the last status message), and nothing typed on it afterwards is called saved. */
function watchConnection(kernel, saves) {
  const LOST = 'This page has lost its connection to the course server: what you type now is not saved. ' +
    'If this note stays, copy anything typed since the last "Saved at", then reload the page: your saved ' +
    'answers will come back.';
  let connected = false;
  let ended = false;
  let why;
  kernel.anyMessage.connect((_, { msg, direction }) => {  // heard before the status it carries is handled
    if (direction === 'recv' && msg.header.msg_type === 'status') why = msg.content.allies_ended;
  });
  kernel.connectionStatusChanged.connect((_, status) => {
    if (ended) return;
    connected ||= status === 'connected';
    saves.setConnected(status === 'connected');
    if (connected) notice(status === 'connected' ? null : LOST);
  });
  kernel.statusChanged.connect((_, status) => {
    if (!ended && (status === 'dead' || status === 'autorestarting')) {
      ended = true;
      saves.setConnected(false);
      notice(ENDED_BY[why] ?? ENDED);
    }
  });
}

/** Has the widgets catch up (`resume`) each time the page connects to its kernel again after losing it. */
function resumeOnReconnection(kernel, manager) {
  let state = 'first';
  kernel.connectionStatusChanged.connect((_, status) => {
    if (status === 'connected' && state === 'lost') manager.resume().catch(console.error);
    if (status === 'connected') state = 'connected';
    else if (state === 'connected') state = 'lost';
  });
}

/** The value of the `_xsrf` cookie, which the server wants back in a header with every POST. */
function xsrfToken() {
  const found = document.cookie.split('; ').find((c) => c.startsWith('_xsrf='));
  return found ? decodeURIComponent(found.slice('_xsrf='.length)) : '';
}

/** Shuts the page's kernel down when the page goes away (a kernel holds about 60 MB on the server); a page
 *  brought back from the browser's back-forward cache reloads, to get a kernel of its own again. */
function shutDownOnClose(config) {
  addEventListener('pagehide', () => {
    fetch(`${config.baseUrl}voila/api/shutdown/${config.kernelId}`, {
      method: 'POST', keepalive: true, credentials: 'same-origin', headers: { 'X-XSRFToken': xsrfToken() },
    });
  });
  addEventListener('pageshow', (event) => event.persisted && location.reload());
}

/** The widgets' stylesheet, which the page fetches without waiting for it (its first views need none): put in
 *  place where the page named it, before the course's own styles, which override some of it; resolves once
 *  it has loaded. */
function widgetStyles() {
  const preload = document.getElementById('allies-widget-styles');
  const link = document.createElement('link');
  link.rel = 'stylesheet';
  link.href = preload.href;
  const loaded = new Promise((resolve, reject) => {
    link.onload = resolve;
    link.onerror = () => reject(new Error(`the widgets' stylesheet ${link.href} did not load`));
  });
  preload.after(link);
  return loaded;
}

/** A link to a part the live widgets bring (the index's "feedback ready" goes to `#feedback`) arrives before
 *  that part exists: once it does, the page goes there, and the keyboard focus with it. */
function goToTarget() {
  const target = location.hash && document.getElementById(decodeURIComponent(location.hash.slice(1)));
  if (!target) return;
  target.scrollIntoView();
  target.focus({ preventScroll: true });
}

/** The WebSocket class the kernel connection opens its sockets with: the first, to the page's kernel, is the
 *  one the page opened as soon as it was whole (`early`, see voila_setup.macro.html.j2), if it is connecting
 *  or open; any other (a reconnection) is new. */
function kernelSockets(early) {
  function KernelSocket(url, protocols) {
    const socket = early?.socket;
    early = null;
    if (!socket || socket.readyState > WebSocket.OPEN
        || new URL(url, location.href).pathname !== new URL(socket.url).pathname) {
      socket?.close();
      return new WebSocket(url, protocols);
    }
    // (the connection sets the socket's handlers once this returns: an open one is told it is open then)
    if (socket.readyState === WebSocket.OPEN) queueMicrotask(() => socket.onopen?.(new Event('open')));
    return socket;
  }
  return Object.assign(KernelSocket, { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 });
}

async function main() {
  watchFirstViews();
  localTimes();
  const config = JSON.parse(document.getElementById('jupyter-config-data').textContent);
  const early = window.alliesKernelSocket;
  const kernel = new KernelConnection({
    model: { id: config.kernelId, name: 'python3' },
    clientId: early?.clientId,
    serverSettings: ServerConnection.makeSettings({ baseUrl: config.baseUrl, WebSocket: kernelSockets(early) }),
  });
  kernel.commsOverSubshells = 'disabled';  // Voilà passes widget messages only, not subshell requests
  watchConnection(kernel, new SaveWatch(config.alliesMaxAnswerBytes));
  shutDownOnClose(config);
  const manager = new KernelWidgetManager(kernel);
  resumeOnReconnection(kernel, manager);
  const loaded = Promise.all([manager.load(), widgetStyles()]);
  const outputs = document.querySelectorAll('script[type="application/vnd.voila.cell-output+json"]');
  await Promise.all(Array.from(outputs, (script) => show(script, manager, loaded)));
  document.body.dataset.alliesPage = 'ready';
  goToTarget();
}

/** What to do if a failure comes back, in the site's words (`course.web.errors.HELP`). */
function ifItComesBack() {
  const config = JSON.parse(document.getElementById('jupyter-config-data')?.textContent || '{}');
  return config.alliesIfItComesBack || 'tell whoever runs this course site';
}

main().catch((error) => {
  console.error(error);
  document.body.dataset.alliesPage = 'failed';
  notice(`Part of this page could not be shown. Reload the page; if this note comes back, ${ifItComesBack()}. ` +
         'Your saved answers are safe.');
});
