'use strict';
// egg-cluster's agent, as the site's singleton: it owns what must exist once (here a
// config version that a task bumps, as an agent watching a config server would) and tells
// every worker, as agent.messenger.sendToApp() does.
const vhostd = require('../../sdk/node');

let version = 1;
const singleton = vhostd.singleton({
  // app.messenger.sendToAgent() + a reply: a call.
  methods: { 'config.get': () => ({ version }) },
});
singleton.on('task', (name) => {
  if (name !== 'config-refresh') return;
  version += 1;
  singleton.send('workers', { action: 'config-changed', data: { version } });   // sendToApp
});
// app.messenger.sendToAgent(action, data): a message from a worker.
singleton.on('message', (message, from) => {
  if (message.action === 'worker-started') console.log(`agent: worker in slot ${from.slot} started`);
});
