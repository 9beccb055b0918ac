// The module page's front end: shows the outputs Voilà streamed into the page and connects their widgets
// to the page's kernel; one small bundle in place of Voilà's JupyterLab application.
import * as base from '@jupyter-widgets/base';
import * as controls from '@jupyter-widgets/controls';
import { ManagerBase } from '@jupyter-widgets/base-manager';
import { KernelConnection } from '@jupyterlab/services/lib/kernel/default';
import { ServerConnection } from '@jupyterlab/services/lib/serverconnection';
import { Widget } from '@lumino/widgets';
import '@jupyter-widgets/controls/css/widgets-base.css';

const MODULES = { '@jupyter-widgets/base': base, '@jupyter-widgets/controls': controls };
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
}

/** One cell output, shown as JupyterLab shows it (the same classes, so the same styles). */
async function show(script, manager, loaded) {
  const out = JSON.parse(script.textContent);
  const data = out.data || {};
  const node = document.createElement('div');
  node.className = 'jp-OutputArea-output';
  script.replaceWith(node);
  if (data[WIDGET]) {
    await loaded;
    const model = await manager.get_model(data[WIDGET].model_id);
    await manager.display_view(manager.create_view(model), node);
  } else if (data['text/html'] !== undefined) {
    node.classList.add('jp-RenderedHTMLCommon', 'jp-RenderedHTML');
    node.innerHTML = data['text/html'];  // the notebook's own output, made by the course on the server
  } else if (data['image/png']) {
    const img = document.createElement('img');
    img.src = `data:image/png;base64,${data['image/png']}`;
    img.alt = data['text/plain'] || '';
    node.append(img);
  } else {
    const text = out.text ?? data['text/plain'] ?? (out.ename ? `${out.ename}: ${out.evalue}` : null);
    if (text === null) {
      node.remove();
      return;
    }
    const pre = document.createElement('pre');
    pre.textContent = text;
    node.classList.add('jp-RenderedText');
    node.append(pre);
  }
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

/** Says, at the top of the page, when it cannot reach its kernel, so that no one types into the void. */
function watchConnection(kernel) {
  const LOST = 'This page has lost its connection to the course server: what you type now is not saved. ' +
    'If this note stays, copy anything typed since the last "Saved at", then reload the page: your saved ' +
    'answers will come back.';
  const ENDED = 'This page\'s session has ended (the course server restarted, or the page was closed ' +
    'elsewhere). Copy anything typed since the last "Saved at", then reload the page: your saved answers ' +
    'will come back.';
  let connected = false;
  kernel.connectionStatusChanged.connect((_, status) => {
    connected ||= status === 'connected';
    if (connected && kernel.status !== 'dead') {
      notice(status === 'connected' ? null : LOST);
    }
  });
  kernel.statusChanged.connect((_, status) => status === 'dead' && notice(ENDED));
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

async function main() {
  const config = JSON.parse(document.getElementById('jupyter-config-data').textContent);
  const kernel = new KernelConnection({
    model: { id: config.kernelId, name: 'python3' },
    serverSettings: ServerConnection.makeSettings({ baseUrl: config.baseUrl }),
  });
  kernel.commsOverSubshells = 'disabled';  // Voilà passes widget messages only, not subshell requests
  watchConnection(kernel);
  shutDownOnClose(config);
  const manager = new KernelWidgetManager(kernel);
  const loaded = manager.load();
  const outputs = document.querySelectorAll('script[type="application/vnd.voila.cell-output+json"]');
  await Promise.all(Array.from(outputs, (script) => show(script, manager, loaded)));
  document.body.dataset.alliesPage = 'ready';
}

main().catch((error) => {
  console.error(error);
  document.body.dataset.alliesPage = 'failed';
  notice('Part of this page could not be shown. Reload the page; if this note comes back, tell your ' +
         'facilitator. Your saved answers are safe.');
});
