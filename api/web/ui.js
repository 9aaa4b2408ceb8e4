// Small DOM helpers shared by the views: element building without innerHTML (no markup from
// data ever reaches the parser) and the two live regions of index.html.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      el.addEventListener(name.slice(2), value);
    } else if (name === 'class') {
      el.className = value;
    } else if (name in el && typeof value !== 'string') {
      el[name] = value; // properties such as disabled, value, checked
    } else {
      el.setAttribute(name, value === true ? '' : value);
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
}

export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// A live region announces a change of its text; the same text twice in a row would be a
// no-op, so the region is cleared first and written on the next frame.
function speak(region, text) {
  region.textContent = '';
  requestAnimationFrame(() => {
    region.textContent = text;
  });
}

export function announce(text) {
  speak(document.getElementById('status'), text);
}

export function showError(text) {
  const region = document.getElementById('errors');
  speak(region, text);
  region.classList.toggle('shown', Boolean(text));
}

export function clearError() {
  const region = document.getElementById('errors');
  region.textContent = '';
  region.classList.remove('shown');
}

// A labelled form field: the label's text is the field's accessible name.
export function field(label, input, hint) {
  const id = input.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  input.id = id;
  const parts = [h('label', { for: id }, label), input];
  if (hint) {
    const hintId = `${id}-hint`;
    input.setAttribute('aria-describedby', hintId);
    parts.push(h('p', { class: 'hint', id: hintId }, hint));
  }
  return h('div', { class: 'field' }, parts);
}
