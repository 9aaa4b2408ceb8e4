// A graphql-transport-ws client (the protocol of github.com/enisdenjo/graphql-ws, which the
// API speaks at /graphql): connection_init with the bearer token, then subscribe / next /
// error / complete per operation, ping answered with pong.
//
// One socket carries every subscription of the page. It opens on the first subscribe and
// reconnects with backoff while any operation is live; after a reconnect each operation is
// sent again and told so (`restarted`), because what happened while the socket was down was
// not delivered: the seat map reloads, a checkout re-reads its state.

import { session } from './session.js';

const PROTOCOL = 'graphql-transport-ws';

class SubscriptionClient {
  constructor() {
    this.socket = null;
    this.ready = false;
    this.ops = new Map();
    this.nextId = 1;
    this.failures = 0;
    this.timer = null;
    // A new token is a new identity: the socket's connection_init carried the old one.
    session.addEventListener('change', () => this.restart());
  }

  subscribe(query, variables, handlers) {
    const id = String(this.nextId++);
    const op = { id, query, variables, handlers, sent: false };
    this.ops.set(id, op);
    if (this.ready) this.send(op);
    else this.connect();
    return () => this.unsubscribe(id);
  }

  unsubscribe(id) {
    const op = this.ops.get(id);
    if (!op) return;
    this.ops.delete(id);
    if (this.ready && op.sent) this.socket.send(JSON.stringify({ id, type: 'complete' }));
  }

  send(op) {
    const restarted = op.sent;
    op.sent = true;
    const payload = { query: op.query, variables: op.variables };
    this.socket.send(JSON.stringify({ id: op.id, type: 'subscribe', payload }));
    if (restarted && op.handlers.restarted) op.handlers.restarted();
  }

  connect() {
    if (this.socket || this.timer) return;
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const socket = new WebSocket(`${scheme}//${location.host}/graphql`, PROTOCOL);
    this.socket = socket;
    socket.addEventListener('open', () => {
      const payload = session.token ? { Authorization: `Bearer ${session.token}` } : {};
      socket.send(JSON.stringify({ type: 'connection_init', payload }));
    });
    socket.addEventListener('message', (message) => this.receive(socket, message.data));
    socket.addEventListener('close', () => this.closed(socket));
  }

  receive(socket, data) {
    let message;
    try {
      message = JSON.parse(data);
    } catch {
      return;
    }
    const op = this.ops.get(message.id);
    switch (message.type) {
      case 'connection_ack':
        this.ready = true;
        this.failures = 0;
        for (const each of this.ops.values()) this.send(each);
        break;
      case 'ping':
        socket.send(JSON.stringify({ type: 'pong' }));
        break;
      case 'next':
        if (op) op.handlers.next(message.payload);
        break;
      case 'error':
        this.ops.delete(message.id);
        if (op && op.handlers.error) op.handlers.error(message.payload);
        break;
      case 'complete':
        this.ops.delete(message.id);
        if (op && op.handlers.complete) op.handlers.complete();
        break;
      default:
        break;
    }
  }

  closed(socket) {
    if (socket !== this.socket) return;
    this.socket = null;
    this.ready = false;
    if (this.ops.size === 0) return;
    // 0.5 s, 1 s, 2 s ... up to 10 s: a restarting API is not hammered by every open page.
    const delay = Math.min(500 * 2 ** this.failures, 10000);
    this.failures += 1;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.connect();
    }, delay);
  }

  restart() {
    if (!this.socket) return;
    const socket = this.socket;
    this.socket = null;
    this.ready = false;
    socket.close(1000);
    if (this.ops.size) this.connect();
  }
}

export const subscriptions = new SubscriptionClient();
