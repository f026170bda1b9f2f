/* vendorscope report: the findings table, paged and filtered in the browser.
 * Data comes from the JSON block #vs-data. Every value from it is hostile
 * (banners, hand-typed names): it only ever reaches the page as textContent,
 * never as HTML. */
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("vs-data").textContent);
  var findings = D.findings;
  var assets = Object.create(null);
  var byAsset = Object.create(null);
  var RANK = { overdue: 0, prohibited: 1, must_remove: 2, restricted: 3, advisory: 4, review: 5, clear: 6 };
  var LABEL = {
    overdue: "overdue", prohibited: "prohibited", must_remove: "must remove", restricted: "restricted",
    advisory: "advisory", review: "review", clear: "clear"
  };
  var state = { q: "", status: "", policy: "", page: 0, size: 50, sort: "status", dir: 1 };
  var opened = Object.create(null);
  var view = [];
  var hay = null;
  var i;

  for (i = 0; i < D.assets.length; i++) { assets[D.assets[i].id] = D.assets[i]; }
  for (i = 0; i < findings.length; i++) {
    (byAsset[findings[i].asset_id] = byAsset[findings[i].asset_id] || []).push(i);
  }

  function $(id) { return document.getElementById(id); }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    return e;
  }

  function keyList(a, name) { return (a && a.keys && a.keys[name]) || []; }

  function keysText(a) {
    if (!a || !a.keys) { return ""; }
    var out = [];
    Object.keys(a.keys).forEach(function (k) { out.push(k + " " + a.keys[k].join(", ")); });
    return out.join(" · ");
  }

  function haystack(idx) {
    if (hay === null) { hay = new Array(findings.length); }
    var h = hay[idx];
    if (h === undefined) {
      var f = findings[idx];
      var a = assets[f.asset_id] || {};
      var parts = [f.asset_id, f.policy, f.requirement, f.status, LABEL[f.status] || "", f.severity, f.reason,
        a.vendor, a.vendor_name, a.group, a.product, a.version, a.device_type, a.site, a.role,
        (a.site_tags || []).join(" "), keysText(a)];
      h = hay[idx] = parts.join("\u0001").toLowerCase();
    }
    return h;
  }

  function cmp(x, y) { return x < y ? -1 : x > y ? 1 : 0; }

  function sortValue(idx) {
    var f = findings[idx];
    var a = assets[f.asset_id] || {};
    switch (state.sort) {
      case "asset": return f.asset_id;
      case "vendor": return ((a.vendor_name || "\uffff") + " " + (a.product || "")).toLowerCase();
      case "site": return (a.site || "\uffff").toLowerCase();
      case "role": return a.role || "";
      case "requirement": return f.policy + " " + f.requirement;
      case "deadline": return f.deadline || "9999-99-99";
      case "days": return f.days_left === null ? Infinity : f.days_left;
      default: return RANK[f.status] === undefined ? 99 : RANK[f.status];
    }
  }

  function applyFilters() {
    var q = state.q.trim().toLowerCase();
    var words = q ? q.split(/\s+/) : [];
    view = [];
    for (var idx = 0; idx < findings.length; idx++) {
      var f = findings[idx];
      if (state.status && f.status !== state.status) { continue; }
      if (state.policy && f.policy !== state.policy) { continue; }
      if (words.length) {
        var h = haystack(idx);
        var ok = true;
        for (var w = 0; w < words.length; w++) { if (h.indexOf(words[w]) < 0) { ok = false; break; } }
        if (!ok) { continue; }
      }
      view.push(idx);
    }
    if (state.sort !== "status" || state.dir !== 1) {
      var keys = new Array(findings.length);
      view.forEach(function (idx) { keys[idx] = sortValue(idx); });
      view.sort(function (x, y) { return state.dir * cmp(keys[x], keys[y]) || x - y; });
    }
    state.page = Math.min(state.page, Math.max(0, Math.ceil(view.length / state.size) - 1));
    render();
  }

  function badge(status) { return el("span", "badge s-" + status, LABEL[status] || status); }

  function cell(tr, text, cls) { var td = el("td", cls, text); tr.appendChild(td); return td; }

  function row(idx) {
    var f = findings[idx];
    var a = assets[f.asset_id] || {};
    var tr = el("tr", "finding" + (opened[idx] ? " open" : ""));
    tr.id = "finding-" + idx;
    tr.setAttribute("data-index", String(idx));
    tr.setAttribute("data-asset", f.asset_id);
    tr.tabIndex = 0;
    var td = el("td");
    var button = el("button", "toggle", opened[idx] ? "\u25BE evidence" : "\u25B8 evidence");
    button.type = "button";
    button.setAttribute("aria-expanded", opened[idx] ? "true" : "false");
    td.appendChild(button);
    td.appendChild(el("div", "mono", f.asset_id));
    var where = keyList(a, "ip").slice(0, 2).concat(keyList(a, "hostname").slice(0, 1)).join(" · ");
    if (where) { td.appendChild(el("div", "note mono", where)); }
    tr.appendChild(td);
    td = el("td");
    td.appendChild(el("div", null, a.vendor_name || "unidentified"));
    var prod = [a.product, a.version].filter(Boolean).join(" ");
    if (prod) { td.appendChild(el("div", "note", prod)); }
    tr.appendChild(td);
    cell(tr, a.site || "");
    cell(tr, a.role || "");
    td = el("td");
    td.appendChild(el("div", null, f.policy));
    td.appendChild(el("div", "note", f.requirement));
    tr.appendChild(td);
    td = el("td");
    td.appendChild(badge(f.status));
    if (f.force) { td.appendChild(el("div", "note", f.force)); }
    tr.appendChild(td);
    cell(tr, f.deadline || "");
    cell(tr, f.days_left === null ? "" : f.days_left, "num" + (f.days_left !== null && f.days_left < 0 ? " neg" : ""));
    cell(tr, f.reason);
    return tr;
  }

  function dl(pairs) {
    var d = el("dl");
    pairs.forEach(function (p) {
      if (p[1] === null || p[1] === undefined || p[1] === "") { return; }
      d.appendChild(el("dt", null, p[0]));
      d.appendChild(el("dd", p[2] || null, p[1]));
    });
    return d;
  }

  function daysText(n) {
    if (n < 0) { return -n + (n === -1 ? " day" : " days") + " overdue"; }
    return n + (n === 1 ? " day" : " days") + " left";
  }

  function contextText(c) {
    if (!c) { return ""; }
    return Object.keys(c).map(function (k) {
      var v = c[k];
      return k + "=" + (typeof v === "object" && v !== null ? JSON.stringify(v) : String(v));
    }).join(" ");
  }

  function evidenceRow(idx) {
    var f = findings[idx];
    var a = assets[f.asset_id] || { keys: {}, evidence: [], conflicts: [] };
    var tr = el("tr", "evidence-row");
    tr.id = "evidence-" + idx;
    var td = el("td");
    td.colSpan = 9;
    var box = el("div", "evidence");
    box.appendChild(el("h4", null, "Why"));
    box.appendChild(dl([
      ["status", LABEL[f.status] || f.status], ["severity", f.severity], ["reason", f.reason],
      ["deadline", f.deadline ? f.deadline + " (" + daysText(f.days_left) + " as of " + f.as_of + ")" : null]
    ]));
    if (f.evidence && f.evidence.length) {
      box.appendChild(el("h4", null, "Evidence chain"));
      var ul = el("ul", "judge-evidence");
      f.evidence.forEach(function (e) { ul.appendChild(el("li", "mono", e)); });
      box.appendChild(ul);
    }
    box.appendChild(el("h4", null, "Asset"));
    var keyPairs = Object.keys(a.keys || {}).map(function (k) { return [k, a.keys[k].join(", "), "mono"]; });
    box.appendChild(dl([["id", a.id || f.asset_id, "mono"]].concat(keyPairs, [
      ["vendor", a.vendor_name ? a.vendor_name + " (" + a.vendor + ", group " + a.group + ")" : "unidentified"],
      ["product", a.product], ["version", a.version], ["device type", a.device_type],
      ["confidence", typeof a.confidence === "number" ? a.confidence.toFixed(2) : null],
      ["role", a.role], ["site", a.site], ["site tags", (a.site_tags || []).join(", ")],
      ["first seen", a.first_seen], ["last seen", a.last_seen], ["observations", a.observations]
    ])));
    if (a.conflicts && a.conflicts.length) {
      box.appendChild(el("h4", "conflict", "Conflicts"));
      var cl = el("ul");
      a.conflicts.forEach(function (c) { cl.appendChild(el("li", "conflict", c.detail)); });
      box.appendChild(cl);
    }
    box.appendChild(el("h4", null, "Observations that named the maker"));
    if (a.evidence && a.evidence.length) {
      var t = el("table", "obs");
      var head = el("tr");
      ["kind", "value", "source", "seen", "rule", "says", "confidence"].forEach(function (h) { head.appendChild(el("th", null, h)); });
      var thead = el("thead");
      thead.appendChild(head);
      t.appendChild(thead);
      var tb = el("tbody");
      a.evidence.forEach(function (e) {
        var r = el("tr");
        cell(r, e.kind || "", "mono");
        var v = el("td");
        v.appendChild(el("pre", "value", e.value === null ? "" : e.value));
        r.appendChild(v);
        var src = el("td", "mono");
        src.appendChild(el("div", null, e.source || ""));
        var ctx = contextText(e.context);
        if (ctx) { src.appendChild(el("div", "note", ctx)); }
        r.appendChild(src);
        cell(r, e.seen_at || "");
        cell(r, e.rule, "mono");
        cell(r, [e.vendor_name, e.product, e.version].filter(Boolean).join(" "));
        cell(r, typeof e.confidence === "number" ? e.confidence.toFixed(2) : "", "num");
        tb.appendChild(r);
      });
      t.appendChild(tb);
      box.appendChild(t);
    } else {
      box.appendChild(el("p", "note", "No stored observation: the verdict has no attribution."));
    }
    var others = (byAsset[f.asset_id] || []).filter(function (j) { return j !== idx; });
    if (others.length) {
      box.appendChild(el("h4", null, "Other findings for this asset"));
      var ol = el("ul");
      others.forEach(function (j) {
        var li = el("li", null, findings[j].policy + " / " + findings[j].requirement + ": ");
        li.appendChild(badge(findings[j].status));
        ol.appendChild(li);
      });
      box.appendChild(ol);
    }
    td.appendChild(box);
    tr.appendChild(td);
    return tr;
  }

  function render() {
    var body = $("findings-body");
    var pages = Math.max(1, Math.ceil(view.length / state.size));
    var start = state.page * state.size;
    var end = Math.min(view.length, start + state.size);
    var frag = document.createDocumentFragment();
    for (var k = start; k < end; k++) {
      var idx = view[k];
      frag.appendChild(row(idx));
      if (opened[idx]) { frag.appendChild(evidenceRow(idx)); }
    }
    if (!view.length) {
      var tr = el("tr");
      var td = el("td", "note", findings.length ? "No finding matches the filter." : "No findings.");
      td.colSpan = 9;
      tr.appendChild(td);
      frag.appendChild(tr);
    }
    body.textContent = "";
    body.appendChild(frag);
    $("count").textContent = view.length === findings.length
      ? findings.length + " findings"
      : view.length + " of " + findings.length + " findings";
    $("page-info").textContent = view.length ? "rows " + (start + 1) + "\u2013" + end + " of " + view.length + ", page " + (state.page + 1) + " of " + pages : "";
    $("first").disabled = $("prev").disabled = state.page === 0;
    $("next").disabled = $("last").disabled = state.page >= pages - 1;
  }

  function toggle(tr) {
    var idx = Number(tr.getAttribute("data-index"));
    var button = tr.querySelector("button.toggle");
    if (opened[idx]) {
      delete opened[idx];
      var next = tr.nextSibling;
      if (next && next.className === "evidence-row") { next.parentNode.removeChild(next); }
      tr.className = "finding";
      button.textContent = "\u25B8 evidence";
      button.setAttribute("aria-expanded", "false");
    } else {
      opened[idx] = true;
      tr.parentNode.insertBefore(evidenceRow(idx), tr.nextSibling);
      tr.className = "finding open";
      button.textContent = "\u25BE evidence";
      button.setAttribute("aria-expanded", "true");
    }
  }

  $("findings-body").addEventListener("click", function (ev) {
    var t = ev.target;
    while (t && t !== this && !(t.tagName === "TR" && t.classList.contains("finding"))) {
      if (t.tagName === "TR") { return; }
      t = t.parentNode;
    }
    if (t && t !== this) {
      var sel = window.getSelection ? String(window.getSelection()) : "";
      if (sel && ev.target.tagName !== "BUTTON") { return; }
      toggle(t);
    }
  });
  $("findings-body").addEventListener("keydown", function (ev) {
    var t = ev.target;
    if (t && t.tagName === "TR" && t.classList.contains("finding") && (ev.key === "Enter" || ev.key === " ")) {
      ev.preventDefault();
      toggle(t);
    }
  });

  var timer = null;
  $("q").addEventListener("input", function () {
    var value = this.value;
    if (timer !== null) { clearTimeout(timer); }
    timer = setTimeout(function () { timer = null; state.q = value; state.page = 0; applyFilters(); }, 120);
  });
  $("f-status").addEventListener("change", function () { state.status = this.value; state.page = 0; applyFilters(); });
  $("f-policy").addEventListener("change", function () { state.policy = this.value; state.page = 0; applyFilters(); });
  $("page-size").addEventListener("change", function () { state.size = Number(this.value) || 50; state.page = 0; render(); });
  $("first").addEventListener("click", function () { state.page = 0; render(); });
  $("prev").addEventListener("click", function () { state.page = Math.max(0, state.page - 1); render(); });
  $("next").addEventListener("click", function () { state.page += 1; render(); });
  $("last").addEventListener("click", function () { state.page = Math.max(0, Math.ceil(view.length / state.size) - 1); render(); });

  Array.prototype.forEach.call(document.querySelectorAll("th.sortable"), function (th) {
    th.addEventListener("click", function () {
      var key = th.getAttribute("data-sort");
      state.dir = state.sort === key ? -state.dir : 1;
      state.sort = key;
      Array.prototype.forEach.call(document.querySelectorAll("th.sortable"), function (o) { o.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", state.dir === 1 ? "ascending" : "descending");
      applyFilters();
    });
  });

  Array.prototype.forEach.call(document.querySelectorAll("#by-status .badge"), function (b) {
    b.addEventListener("click", function () {
      var s = b.getAttribute("data-status");
      var select = $("f-status");
      if (!select.querySelector("option[value='" + s + "']")) { return; }
      select.value = s;
      state.status = s;
      state.page = 0;
      applyFilters();
      $("findings").scrollIntoView();
    });
  });

  /* Printing lists every finding (not the page on screen), with totals: the table is
   * built once, when the page is about to print (or print media is emulated). */
  var printed = false;
  function buildPrintTable() {
    if (printed) { return; }
    printed = true;
    var body = $("print-body");
    var frag = document.createDocumentFragment();
    var counts = Object.create(null);
    for (var idx = 0; idx < findings.length; idx++) {
      var f = findings[idx];
      var a = assets[f.asset_id] || {};
      counts[f.status] = (counts[f.status] || 0) + 1;
      var tr = el("tr", "print-finding");
      cell(tr, f.asset_id, "mono");
      cell(tr, [a.vendor_name || "unidentified", a.product, a.version].filter(Boolean).join(" "));
      cell(tr, a.site || "");
      cell(tr, a.role || "");
      cell(tr, f.policy + " / " + f.requirement);
      cell(tr, LABEL[f.status] || f.status);
      cell(tr, f.deadline || "");
      cell(tr, f.days_left === null ? "" : f.days_left, "num");
      cell(tr, f.reason);
      frag.appendChild(tr);
    }
    body.appendChild(frag);
    var parts = Object.keys(RANK).filter(function (k) { return counts[k]; }).map(function (k) {
      return counts[k] + " " + LABEL[k];
    });
    $("print-foot").textContent = "Total: " + findings.length + (findings.length === 1 ? " finding" : " findings") +
      (parts.length ? " (" + parts.join(", ") + ")" : "") + ".";
    document.documentElement.setAttribute("data-printed", String(findings.length));
  }
  window.addEventListener("beforeprint", buildPrintTable);
  if (window.matchMedia) {
    var printMedia = window.matchMedia("print");
    var onPrint = function (ev) { if (ev.matches) { buildPrintTable(); } };
    if (printMedia.addEventListener) { printMedia.addEventListener("change", onPrint); }
    else if (printMedia.addListener) { printMedia.addListener(onPrint); }
    if (printMedia.matches) { buildPrintTable(); }
  }

  document.documentElement.setAttribute("data-findings", String(findings.length));
  applyFilters();
}());
