// The seat map: one SVG <rect> per seat, in the venue's own coordinates (a seat is 1 wide,
// centred on its x, y; the stage is at y = 0). Zoom and pan change only the viewBox, so a
// 5,000-seat map is never re-laid-out; a status change touches one rect.
//
// Each seat is a role=button with its full name; only one seat is in the Tab order at a time
// (a roving tabindex), and the arrow keys move between seats, so Tab crosses the map in one
// stop however many seats it has.

import { seatLabel, seatPlace, STATUS_WORDS } from '../format.js';
import { h } from '../ui.js';

const SVG = 'http://www.w3.org/2000/svg';
const SEAT = 0.84; // drawn size, so neighbours (1 apart) keep a visible gap
const STAGE_ROOM = 4; // map units above the first row for the stage
const MIN_SPAN = 8; // zoomed in no further than about 8 seats across

function svg(tag, attrs = {}) {
  const el = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, value);
  return el;
}

export class SeatMap {
  constructor({ currency, onActivate }) {
    this.currency = currency;
    this.onActivate = onActivate;
    this.seats = new Map(); // id -> { seat, el }
    this.order = []; // seats by section, row, number: the keyboard's order
    this.rows = new Map(); // "section|row" -> seats by number
    this.rowOrder = new Map(); // section -> row keys front to back
    this.current = null;
    this.selected = new Set();
    this.mine = new Set();
    this.el = this.build();
  }

  build() {
    this.svg = svg('svg', {
      class: 'seatmap',
      role: 'group',
      'aria-roledescription': 'seat map',
      'aria-label': 'Seat map',
      preserveAspectRatio: 'xMidYMid meet',
    });
    this.layer = svg('g');
    this.ring = svg('rect', { class: 'focus-ring', width: 1.3, height: 1.3, rx: 0.3 });
    this.ring.style.display = 'none';
    this.svg.append(this.layer, this.ring);
    this.svg.addEventListener('keydown', (e) => this.key(e));
    this.svg.addEventListener('focusin', (e) => this.focused(e.target));
    this.svg.addEventListener('focusout', () => {
      this.ring.style.display = 'none';
    });
    this.svg.addEventListener('click', (e) => {
      if (this.dragged) return;
      const seat = e.target.closest('.seat');
      if (seat) {
        this.setCurrent(seat.dataset.id);
        this.onActivate(this.seats.get(seat.dataset.id).seat);
      }
    });
    this.panZoom();
    const zoom = (factor) => () => this.zoomBy(factor);
    const controls = h(
      'div',
      { class: 'map-controls' },
      h('button', { type: 'button', onclick: zoom(1 / 1.6), 'aria-label': 'Zoom in' }, '+'),
      h('button', { type: 'button', onclick: zoom(1.6), 'aria-label': 'Zoom out' }, '−'),
      h('button', { type: 'button', onclick: () => this.reset() }, 'Whole venue'),
    );
    return h('div', { class: 'map-frame' }, controls, this.svg);
  }

  load(map) {
    this.width = map.width;
    this.height = map.height;
    this.layer.replaceChildren();
    this.seats.clear();
    this.rows.clear();
    this.rowOrder.clear();
    const fragment = document.createDocumentFragment();
    fragment.append(this.stage(), ...this.sectionLabels(map.seats));
    for (const seat of map.seats) {
      const el = svg('rect', {
        x: seat.x - SEAT / 2,
        y: seat.y - SEAT / 2,
        width: SEAT,
        height: SEAT,
        rx: 0.18,
        role: 'button',
        tabindex: -1,
        'data-id': seat.id,
      });
      this.seats.set(seat.id, { seat: { ...seat }, el });
      this.paint(seat.id);
      fragment.append(el);
    }
    this.layer.append(fragment);
    this.index(map.seats);
    const first = this.order.find((s) => s.status === 'AVAILABLE') || this.order[0];
    if (first) this.setCurrent(first.id);
    this.reset();
  }

  stage() {
    const w = Math.min(this.width * 0.5, 60);
    const g = svg('g', { 'aria-hidden': 'true', class: 'stage' });
    const text = svg('text', { x: this.width / 2, y: -STAGE_ROOM / 2 + 0.1, 'font-size': 1.1 });
    text.textContent = 'STAGE';
    g.append(svg('rect', { x: (this.width - w) / 2, y: -STAGE_ROOM + 0.6, width: w, height: 2.4, rx: 0.4 }), text);
    return g;
  }

  sectionLabels(seats) {
    const boxes = new Map();
    for (const s of seats) {
      const b = boxes.get(s.section) || { x0: Infinity, x1: -Infinity, y0: Infinity };
      b.x0 = Math.min(b.x0, s.x);
      b.x1 = Math.max(b.x1, s.x);
      b.y0 = Math.min(b.y0, s.y);
      boxes.set(s.section, b);
    }
    return [...boxes].map(([name, b]) => {
      const text = svg('text', {
        class: 'section-label',
        x: (b.x0 + b.x1) / 2,
        y: b.y0 - 1.1,
        'font-size': 1.3,
        'aria-hidden': 'true',
      });
      text.textContent = name;
      return text;
    });
  }

  // Keyboard order: section by section, each row by seat number; rows front (stage) to back.
  index(seats) {
    for (const seat of seats) {
      const key = `${seat.section}|${seat.row}`;
      if (!this.rows.has(key)) this.rows.set(key, []);
      this.rows.get(key).push(this.seats.get(seat.id).seat);
    }
    const sections = new Map();
    for (const [key, row] of this.rows) {
      row.sort((a, b) => a.number - b.number);
      const section = row[0].section;
      if (!sections.has(section)) sections.set(section, []);
      sections.get(section).push({ key, y: row.reduce((t, s) => t + s.y, 0) / row.length });
    }
    const sectionTop = (list) => Math.min(...list.map((r) => r.y));
    const sectionLeft = (list) => Math.min(...list.map((r) => this.rows.get(r.key)[0].x));
    const sorted = [...sections].sort(
      ([, a], [, b]) => sectionTop(a) - sectionTop(b) || sectionLeft(a) - sectionLeft(b),
    );
    this.order = [];
    for (const [section, list] of sorted) {
      list.sort((a, b) => a.y - b.y);
      this.rowOrder.set(section, list.map((r) => r.key));
      for (const r of list) this.order.push(...this.rows.get(r.key));
    }
    this.order.forEach((s, i) => {
      s.position = i;
    });
  }

  paint(id) {
    const { seat, el } = this.seats.get(id);
    const mine = this.mine.has(id);
    const status = mine ? 'mine' : seat.status;
    let cls = `seat st-${status} ty-${seat.type}`;
    if (this.selected.has(id)) cls += ' selected';
    el.setAttribute('class', cls);
    el.setAttribute('aria-label', seatLabel(seat, this.currency));
    // Chosen (before the hold) or held by this buyer: a toggle's pressed state says so.
    el.setAttribute('aria-pressed', this.selected.has(id) || mine ? 'true' : 'false');
  }

  seat(id) {
    const entry = this.seats.get(id);
    return entry ? entry.seat : null;
  }

  setStatus(id, status) {
    const entry = this.seats.get(id);
    if (!entry || !STATUS_WORDS[status] || entry.seat.status === status) return false;
    entry.seat.status = status;
    this.paint(id);
    return true;
  }

  setSelected(ids) {
    const before = this.selected;
    this.selected = new Set(ids);
    for (const id of new Set([...before, ...ids])) if (this.seats.has(id)) this.paint(id);
  }

  setMine(ids) {
    const before = this.mine;
    this.mine = new Set(ids);
    for (const id of new Set([...before, ...ids])) if (this.seats.has(id)) this.paint(id);
  }

  // --- keyboard ---

  setCurrent(id) {
    if (this.current && this.seats.has(this.current)) {
      this.seats.get(this.current).el.setAttribute('tabindex', '-1');
    }
    this.current = id;
    this.seats.get(id).el.setAttribute('tabindex', '0');
  }

  moveTo(id) {
    this.setCurrent(id);
    const { el } = this.seats.get(id);
    el.focus({ preventScroll: true });
  }

  focused(target) {
    const id = target.dataset && target.dataset.id;
    if (!id) return;
    if (id !== this.current) this.setCurrent(id);
    const { seat } = this.seats.get(id);
    this.ring.setAttribute('x', seat.x - 0.65);
    this.ring.setAttribute('y', seat.y - 0.65);
    this.ring.style.display = '';
    this.keepInView(seat);
  }

  neighbour(seat, key) {
    const row = this.rows.get(`${seat.section}|${seat.row}`);
    const at = row.indexOf(seat);
    if (key === 'ArrowLeft' && at > 0) return row[at - 1];
    if (key === 'ArrowRight' && at < row.length - 1) return row[at + 1];
    if (key === 'Home') return row[0];
    if (key === 'End') return row[row.length - 1];
    if (key === 'ArrowUp' || key === 'ArrowDown') {
      const rows = this.rowOrder.get(seat.section);
      const next = rows[rows.indexOf(`${seat.section}|${seat.row}`) + (key === 'ArrowUp' ? -1 : 1)];
      if (next) return this.closest(this.rows.get(next), seat.x);
    }
    return this.beyond(seat, key);
  }

  closest(list, x) {
    return list.reduce((best, s) => (Math.abs(s.x - x) < Math.abs(best.x - x) ? s : best));
  }

  // Past a row's or a section's edge: the nearest seat that way, across the aisle.
  beyond(seat, key) {
    const dir = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] }[key];
    if (!dir) return null;
    let best = null;
    let bestScore = Infinity;
    for (const s of this.order) {
      const dx = s.x - seat.x;
      const dy = s.y - seat.y;
      const along = dx * dir[0] + dy * dir[1];
      if (along < 0.5) continue;
      const across = Math.abs(dx * dir[1]) + Math.abs(dy * dir[0]);
      const score = along + across * 3; // straight ahead beats diagonal
      if (score < bestScore) {
        bestScore = score;
        best = s;
      }
    }
    return best;
  }

  key(event) {
    const id = event.target.dataset && event.target.dataset.id;
    if (event.key === '+' || event.key === '=') {
      this.zoomBy(1 / 1.6, id && this.seat(id));
    } else if (event.key === '-' || event.key === '_') {
      this.zoomBy(1.6, id && this.seat(id));
    } else if (!id) {
      return;
    } else if (event.key === 'Enter' || event.key === ' ') {
      this.onActivate(this.seat(id));
    } else {
      const next = this.neighbour(this.seat(id), event.key);
      if (!next) {
        if (!event.key.startsWith('Arrow') && event.key !== 'Home' && event.key !== 'End') return;
      } else {
        this.moveTo(next.id);
      }
    }
    event.preventDefault();
  }

  // --- zoom and pan (the viewBox) ---

  reset() {
    const pad = 1;
    this.view = { x: -pad, y: -STAGE_ROOM, w: this.width + 2 * pad, h: this.height + STAGE_ROOM + pad };
    this.full = { ...this.view };
    // The frame takes the venue's shape (within the CSS bounds), so no band is left empty.
    this.svg.style.aspectRatio = `${this.full.w} / ${this.full.h}`;
    // A small venue is not blown up past about 24 px a seat: its labels would shout.
    this.svg.style.maxWidth = `${Math.round(this.full.w * 24)}px`;
    this.apply();
  }

  apply() {
    if (this.frame) return;
    // One viewBox write per frame, however many wheel or pointer events arrived.
    this.frame = requestAnimationFrame(() => {
      this.frame = null;
      const v = this.view;
      this.svg.setAttribute('viewBox', `${v.x} ${v.y} ${v.w} ${v.h}`);
      const zoomed = v.w < this.full.w * 0.99;
      this.svg.classList.toggle('zoomed', zoomed);
    });
  }

  zoomBy(factor, around) {
    const v = this.view;
    const cx = around ? around.x : v.x + v.w / 2;
    const cy = around ? around.y : v.y + v.h / 2;
    const w = Math.min(Math.max(v.w * factor, MIN_SPAN), this.full.w * 1.5);
    const ratio = w / v.w;
    this.view = { x: cx - (cx - v.x) * ratio, y: cy - (cy - v.y) * ratio, w, h: v.h * ratio };
    this.apply();
  }

  // Seats chosen for the buyer (best available) are shown up close.
  show(ids) {
    const seats = ids.map((id) => this.seat(id)).filter(Boolean);
    if (!seats.length) return;
    // A small venue is legible whole: only a big one is zoomed in on the seats.
    if (this.full.w <= 60) {
      this.reset();
      return;
    }
    const xs = seats.map((s) => s.x);
    const ys = seats.map((s) => s.y);
    const cx = (Math.min(...xs) + Math.max(...xs)) / 2;
    const cy = (Math.min(...ys) + Math.max(...ys)) / 2;
    const w = Math.max(Math.max(...xs) - Math.min(...xs) + 12, 24);
    const h = (w * this.full.h) / this.full.w;
    this.view = { x: cx - w / 2, y: cy - h / 2, w, h };
    this.apply();
  }

  keepInView(seat) {
    const v = this.view;
    const m = 1.5;
    if (seat.x - m >= v.x && seat.x + m <= v.x + v.w && seat.y - m >= v.y && seat.y + m <= v.y + v.h) return;
    this.view = { ...v, x: seat.x - v.w / 2, y: seat.y - v.h / 2 };
    this.apply();
  }

  toMap(clientX, clientY) {
    const point = this.svg.createSVGPoint();
    point.x = clientX;
    point.y = clientY;
    return point.matrixTransform(this.svg.getScreenCTM().inverse());
  }

  panZoom() {
    const pointers = new Map();
    let start = null;
    this.svg.addEventListener(
      'wheel',
      (e) => {
        e.preventDefault();
        this.zoomBy(Math.exp(e.deltaY * 0.0015), this.toMap(e.clientX, e.clientY));
      },
      { passive: false },
    );
    this.svg.addEventListener('pointerdown', (e) => {
      pointers.set(e.pointerId, { x: e.clientX, y: e.clientY });
      this.dragged = false;
      start = { x: e.clientX, y: e.clientY, view: { ...this.view }, spread: spread() };
    });
    const spread = () => {
      const [a, b] = [...pointers.values()];
      return b ? Math.hypot(a.x - b.x, a.y - b.y) : 0;
    };
    this.svg.addEventListener('pointermove', (e) => {
      if (!pointers.has(e.pointerId) || !start) return;
      pointers.set(e.pointerId, { x: e.clientX, y: e.clientY });
      if (pointers.size === 2 && start.spread) {
        // Pinch: the view narrows as the fingers spread.
        const [a, b] = [...pointers.values()];
        const mid = this.toMap((a.x + b.x) / 2, (a.y + b.y) / 2);
        this.zoomBy((start.view.w * start.spread) / spread() / this.view.w, mid);
        this.dragged = true;
        return;
      }
      const dx = e.clientX - start.x;
      const dy = e.clientY - start.y;
      // A few pixels of jitter is still a click on a seat.
      if (!this.dragged && Math.hypot(dx, dy) < 5) return;
      if (!this.dragged) this.svg.setPointerCapture(e.pointerId);
      this.dragged = true;
      const scale = 1 / this.svg.getScreenCTM().a; // map units per pixel, as drawn
      this.view = { ...start.view, x: start.view.x - dx * scale, y: start.view.y - dy * scale };
      this.apply();
    });
    const end = (e) => {
      pointers.delete(e.pointerId);
      if (pointers.size === 0) start = null;
      // The click that follows a drag's pointerup must not choose a seat.
      setTimeout(() => {
        this.dragged = false;
      }, 0);
    };
    this.svg.addEventListener('pointerup', end);
    this.svg.addEventListener('pointercancel', end);
  }
}

export { seatPlace };
