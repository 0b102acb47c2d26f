// SmartShop console: talks to the API on the same origin (/api, proxied by nginx).
// Data from the API is written with textContent only, never parsed as HTML.
"use strict";

const REFRESH_MS = 2000;
const UNREACHABLE = "API injoignable";
const $ = (id) => document.getElementById(id);

async function api(method, path, body) {
  const options = { method, headers: { Accept: "application/json" } };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, options);
  } catch (_) {
    // no answer at all (the console unreachable, a connection reset): status 0, said as such,
    // never an unhandled rejection that would stop the refresh loop
    return { ok: false, status: 0, data: { error: UNREACHABLE } };
  }
  let data = null;
  try { data = await response.json(); } catch (_) { data = null; }
  return { ok: response.ok, status: response.status, data };
}

function show(result, label) {
  const text = result.data && (result.data.message || result.data.error);
  const status = result.status || "pas de réponse";
  $("last-result").textContent = `${label}: ${status}${text ? " — " + text : ""}`;
  $("last-result").dataset.status = String(result.status);
}

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function button(label, onClick, extraClass) {
  const b = el("button", label, "small" + (extraClass ? " " + extraClass : ""));
  b.type = "button";
  b.addEventListener("click", onClick);
  return b;
}

async function refreshStats() {
  const r = await api("GET", "/api/stats");
  const badge = $("api-status");
  if (!r.ok) {
    badge.textContent = r.status ? `API ${r.status}` : UNREACHABLE;
    badge.className = "badge bad";
    return;
  }
  badge.textContent = "API OK";
  badge.className = "badge ok";
  const s = r.data;
  for (const node of document.querySelectorAll("[data-stat]")) {
    const key = node.dataset.stat;
    let value = s[key];
    if (key === "payments_last_hour") value = `${value.success} ✓ / ${value.failed} ✗`;
    else if (key === "activities_last_hour") value = `${value.low} / ${value.medium} / ${value.high}`;
    else if (key === "revenue_total") value = `${Number(value).toFixed(2)} €`;
    node.textContent = value;
  }
  $("stats-updated").textContent = "mis à jour " + new Date().toLocaleTimeString();
}

async function refreshUsers() {
  const r = await api("GET", "/api/users?limit=10");
  if (!r.ok) return;
  const body = $("users-body");
  const select = $("order-user");
  const chosen = select.value;
  body.replaceChildren();
  select.replaceChildren(el("option", "utilisateur au hasard"));
  select.firstChild.value = "";
  for (const u of r.data.users) {
    const tr = el("tr");
    tr.dataset.userId = u.id;
    tr.append(el("td", u.id), el("td", u.username), el("td", u.logged_in ? "oui" : "non"));
    const actions = el("td");
    actions.append(
      button("Connexion", () => act("POST", `/api/users/login/${u.id}`, "Connexion")),
      button("Déconnexion", () => act("POST", `/api/users/logout/${u.id}`, "Déconnexion")),
    );
    tr.append(actions);
    body.append(tr);
    const option = el("option", `${u.username} (#${u.id})`);
    option.value = u.id;
    select.append(option);
  }
  select.value = chosen;
}

// A button per action an order allows (the API lists them with each order).
const ACTION_BUTTONS = {
  validate: (o) => [button("Valider", () => act("POST", `/api/orders/validate/${o.id}`, "Valider"))],
  process: (o) => {
    const label = o.status === "payment_failed" ? "Retraiter" : "Traiter";
    return [button(label, () => act("POST", `/api/orders/process/${o.id}`, label))];
  },
  pay: (o) => [
    button("Payer ✓", () => act("POST", `/api/payments/process/${o.id}`, "Paiement", { status: "success" })),
    button("Payer ✗", () => act("POST", `/api/payments/process/${o.id}`, "Paiement", { status: "failed" }), "bad"),
  ],
  cancel: (o) => [button("Annuler", () => act("POST", `/api/orders/cancel/${o.id}`, "Annulation"), "bad")],
};

async function refreshOrders() {
  const r = await api("GET", "/api/orders?limit=10");
  if (!r.ok) return;
  const body = $("orders-body");
  body.replaceChildren();
  for (const o of r.data.orders) {
    const tr = el("tr");
    tr.dataset.orderId = o.id;
    tr.append(el("td", o.id), el("td", o.product), el("td", `${o.amount.toFixed(2)} €`),
      el("td", o.status, "status " + o.status));
    const actions = el("td");
    // the API says which actions the order allows (o.actions, from its state machine); the console
    // only gives each a button
    for (const action of o.actions || []) {
      actions.append(...(ACTION_BUTTONS[action] ? ACTION_BUTTONS[action](o) : []));
    }
    tr.append(actions);
    body.append(tr);
  }
}

async function refreshActivity() {
  const r = await api("GET", "/api/activity?limit=20");
  if (!r.ok) return;
  const list = $("activity-list");
  list.replaceChildren(...r.data.entries.map((e) => {
    const li = el("li", `${e.created_at.slice(11, 19)} ${e.text}`, e.level);
    return li;
  }));
}

async function refreshProducts() {
  const r = await api("GET", "/api/products");
  if (!r.ok) return;
  const select = $("order-product");
  for (const p of r.data.products) {
    const option = el("option", `${p.name} — ${p.price.toFixed(2)} €`);
    option.value = p.id;
    select.append(option);
  }
}

async function refreshAll() {
  await Promise.all([refreshStats(), refreshUsers(), refreshOrders(), refreshActivity()]);
}

async function act(method, path, label, body) {
  const r = await api(method, path, body);
  show(r, label);
  await refreshAll();
  return r;
}

async function loadConfig() {
  try {
    const response = await fetch("/config.json");
    if (!response.ok) return;
    const config = await response.json();
    if (config.grafana_url) $("link-grafana").href = config.grafana_url;
    if (config.prometheus_url) $("link-prometheus").href = config.prometheus_url;
  } catch (_) { /* keep the defaults */ }
}

function wire() {
  $("user-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const name = $("user-name").value.trim();
    act("POST", "/api/users/create", "Création utilisateur", name ? { username: name } : undefined);
    $("user-name").value = "";
  });
  $("order-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const user = $("order-user").value;
    const product = $("order-product").value;
    const body = product ? { product_id: Number(product) } : undefined;
    act("POST", user ? `/api/orders/create/${user}` : "/api/orders/create", "Création commande", body);
  });
  $("error-404").addEventListener("click", () => act("GET", "/api/errors/404", "Erreur 404"));
  $("error-500").addEventListener("click", () => act("GET", "/api/errors/500", "Erreur 500"));
  $("error-custom").addEventListener("click", () => {
    const message = $("error-message").value.trim();
    act("POST", "/api/errors/custom", "Erreur personnalisée", message ? { message } : {});
  });
}

// Live charts: /charts/<name> is one fixed Prometheus query (a recording rule over 30 minutes)
// that the console's nginx sends with its own credential; the browser never sends a query.
const CHARTS_MS = 15000;
const SCALE = { "/min": 1, "%": 100, ms: 1000 };
const charts = {};

async function refreshCharts() {
  const failed = [];
  for (const canvas of document.querySelectorAll("canvas[data-chart]")) {
    const name = canvas.dataset.chart;
    const r = await api("GET", `/charts/${name}`);
    const series = r.ok && r.data && r.data.data && r.data.data.result[0];
    if (!series) {
      failed.push(`${name} (${r.ok ? "pas encore de données" : r.status || "injoignable"})`);
      canvas.dataset.points = "0";
      continue;
    }
    const factor = SCALE[canvas.dataset.unit] || 1;
    const points = series.values
      .map(([t, v]) => ({ x: t * 1000, y: Number(v) * factor }))
      .filter((p) => Number.isFinite(p.y));
    canvas.dataset.points = String(points.length);
    canvas.dataset.last = points.length ? points[points.length - 1].y.toFixed(3) : "";
    if (typeof Chart === "undefined") continue;
    if (!charts[name]) {
      charts[name] = new Chart(canvas, {
        type: "line",
        data: { datasets: [{ label: canvas.dataset.unit, data: points, borderColor: "#2458d6", pointRadius: 0, borderWidth: 1.5 }] },
        options: {
          animation: false, maintainAspectRatio: false, plugins: { legend: { display: false } },
          scales: {
            x: { type: "linear", ticks: { maxTicksLimit: 6, callback: (t) => new Date(t).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) } },
            y: { beginAtZero: true, title: { display: true, text: canvas.dataset.unit } },
          },
        },
      });
    } else {
      charts[name].data.datasets[0].data = points;
      charts[name].update();
    }
  }
  $("charts-status").textContent = failed.length ? `Sans données : ${failed.join(", ")}` : "mis à jour " + new Date().toLocaleTimeString();
}

document.addEventListener("DOMContentLoaded", async () => {
  wire();
  await loadConfig();
  await refreshProducts();
  await refreshAll();
  setInterval(refreshAll, REFRESH_MS);
  await refreshCharts();
  setInterval(refreshCharts, CHARTS_MS);
});
