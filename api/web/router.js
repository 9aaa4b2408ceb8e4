// Client-side pages on real paths (api/web.py answers index.html for each), so a page can be
// reloaded or shared. A view is `mount(main, params) -> unmount?`.

const routes = [];
let unmount = null;

export function route(pattern, load) {
  routes.push({ pattern, load });
}

export function navigate(path, { replace = false } = {}) {
  if (replace) history.replaceState({}, '', path);
  else history.pushState({}, '', path);
  render();
}

export async function render() {
  const main = document.getElementById('main');
  if (unmount) {
    unmount();
    unmount = null;
  }
  const path = location.pathname;
  for (const { pattern, load } of routes) {
    const match = path.match(pattern);
    if (!match) continue;
    const view = await load();
    main.replaceChildren();
    document.dispatchEvent(new CustomEvent('routechange'));
    unmount = (await view.mount(main, match.slice(1).map(decodeURIComponent))) || null;
    // Focus goes to the new page's heading, so a screen reader hears where it landed.
    const heading = main.querySelector('h1');
    if (heading) {
      heading.tabIndex = -1;
      heading.focus({ preventScroll: true });
      document.title = `${heading.textContent} · Tickets`;
    }
    return;
  }
  main.replaceChildren();
  const missing = document.createElement('h1');
  missing.textContent = 'Page not found';
  main.append(missing);
}

// Same-origin links change the page without a reload (the live subscriptions stay open).
document.addEventListener('click', (event) => {
  const link = event.target.closest && event.target.closest('a[href]');
  if (!link || event.defaultPrevented || event.button !== 0) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const url = new URL(link.href, location.href);
  if (url.origin !== location.origin || url.pathname.startsWith('/web/') || link.target) return;
  if (url.pathname === '/graphql' || url.hash && url.pathname === location.pathname) return;
  event.preventDefault();
  navigate(url.pathname + url.search);
});

window.addEventListener('popstate', () => render());
