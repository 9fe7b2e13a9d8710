// Operators: the console's accounts and their roles (docs/operators.md).
// Accounts are created, changed and disabled with `parley operator` on
// the server; the console lists them.

import { api, isAbort } from '../api.js';
import { h, replace, card, pageHeader, table, badge, timeEl, loading, emptyState, errorBox } from '../dom.js';

const ROLE_TONES = { owner: 'accent', developer: 'neutral', support: 'warn', auditor: 'neutral' };

export async function operatorsView(ctx) {
  const { root } = ctx;
  const slot = h('div', { id: 'operators-list' }, loading('Loading operators…'));
  root.append(
    pageHeader('Operators', 'The people who can log in to this console, and their roles. Create, change or disable accounts on the server with parley operator.'),
    card({ title: 'Accounts', id: 'operators-card' }, slot));
  let res;
  try {
    res = await api('/v1/console/operators', { signal: ctx.signal });
  } catch (err) {
    if (isAbort(err)) throw err;
    replace(slot, errorBox(err, 'Could not load the operators'));
    return;
  }
  if (!ctx.alive()) return;
  const ops = Array.isArray(res && res.operators) ? res.operators : [];
  if (!ops.length) {
    replace(slot, emptyState('No operators', null));
    return;
  }
  const me = ctx.me && ctx.me.operator ? ctx.me.operator.id : null;
  replace(slot, table([
    { label: 'Name', render: (o) => h('span', { class: 'strong', text: o.id === me ? `${o.name} (you)` : o.name }) },
    { label: 'Role', render: (o) => badge(o.role, ROLE_TONES[o.role] || 'neutral') },
    { label: 'Created', render: (o) => timeEl(o.created_at) },
    { label: 'Status', render: (o) => (o.disabled_at ? h('span', null, badge('Disabled', 'danger'), ' ', timeEl(o.disabled_at)) : badge('Active', 'ok')) },
  ], ops, { caption: 'Operator accounts' }));
}
