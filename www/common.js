// Helpers shared by the demo pages: DOM building, clock formatting, copy
// buttons. No network access here, and nothing from outside this directory.

// el('li', {class: 'x', dataset: {id: '1'}}, 'text', child) -> element
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key === 'text') node.textContent = value;
    else node.setAttribute(key, value === true ? '' : value);
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

const pad = (n, w = 2) => String(n).padStart(w, '0');

// Local wall-clock time with milliseconds: 14:03:27.512
export function clock(date) {
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
}

// The gateway's ids are MS-SEQ: the millisecond it was published, a counter.
export function idTime(id) {
  const ms = Number(String(id).split('-')[0]);
  return Number.isFinite(ms) && ms > 0 ? new Date(ms) : null;
}

// Copies text; resolves true when it worked. Falls back to a hidden textarea
// where the async clipboard is not allowed.
export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const area = el('textarea', { class: 'offscreen', 'aria-hidden': 'true' });
    area.value = text;
    document.body.append(area);
    area.select();
    let ok = false;
    try {
      ok = document.execCommand('copy');
    } catch {
      ok = false;
    }
    area.remove();
    return ok;
  }
}

// Wires every button[data-copy-from="ID"] to copy #ID's text.
export function wireCopyButtons(root = document) {
  root.addEventListener('click', async (ev) => {
    const button = ev.target.closest('button[data-copy-from]');
    if (!button) return;
    const source = document.getElementById(button.dataset.copyFrom);
    if (!source) return;
    const ok = await copyText(source.textContent);
    const label = button.querySelector('.copy-label') || button;
    const before = button.dataset.label || label.textContent;
    button.dataset.label = before;
    label.textContent = ok ? 'Copied' : 'Select and copy';
    button.classList.toggle('copied', ok);
    clearTimeout(button._reset);
    button._reset = setTimeout(() => {
      label.textContent = before;
      button.classList.remove('copied');
    }, 1600);
  });
}

// The gateway's own origin, for curl lines and WebSocket URLs.
export const origin = location.origin;
export const wsOrigin = origin.replace(/^http/, 'ws');
