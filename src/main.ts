#!/usr/bin/env -S MALLOC_ARENA_MAX=2 node --max-semi-space-size=1 --expose-gc
// regate's entry point: `regate serve [--config FILE]`, `regate user …`, `regate nginx import …`, `regate config check …`, `regate gc …`, `regate du …`,
// `regate scrub …`, `regate health` (container health checks), `regate htpasswd -Bbn …` (Apache's display mode).
import { Command } from 'commander';
import { registerServeCommand } from './cli/serve-command.js';
import { registerUserCommand } from './cli/user-command.js';
import { registerNginxCommand } from './cli/nginx-command.js';
import { registerConfigCommand } from './cli/config-command.js';
import { registerGcCommand } from './cli/gc-command.js';
import { registerDuCommand } from './cli/du-command.js';
import { registerScrubCommand } from './cli/scrub-command.js';
import { registerHealthCommand } from './cli/health-command.js';
import { registerHtpasswdCommand } from './cli/htpasswd-command.js';

const program = new Command();
program.name('regate').description('A private Docker/OCI registry with its hardened front door, in one process');
registerServeCommand(program);
registerUserCommand(program);
registerNginxCommand(program);
registerConfigCommand(program);
registerGcCommand(program);
registerDuCommand(program);
registerScrubCommand(program);
registerHealthCommand(program);
registerHtpasswdCommand(program);
await program.parseAsync(process.argv);
