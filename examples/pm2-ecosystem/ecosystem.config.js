// The PM2 ecosystem file this example started from; vhostd.toml beside it is its translation
// (docs/migrating.md, "From PM2"). `pm2 start ecosystem.config.js` still runs the app.
module.exports = {
  apps: [{
    name: 'api',
    script: 'app.js',
    instances: 2,
    exec_mode: 'cluster',
    max_memory_restart: '300M',
    cron_restart: '0 3 * * *',
    kill_timeout: 3000,
    listen_timeout: 8000,
    max_restarts: 10,
    restart_delay: 1000,
    env: { NODE_ENV: 'production', GREETING: 'hello', PORT: 3000 },
  }],
};
