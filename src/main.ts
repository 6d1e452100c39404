#!/usr/bin/env -S MALLOC_ARENA_MAX=2 node --max-semi-space-size=1
// regate's entry point: `regate serve [--config FILE]`.
import { Command } from 'commander';
import { registerServeCommand } from './cli/serve-command.js';
import { registerUserCommand } from './cli/user-command.js';

const program = new Command();
program.name('regate').description('A private Docker/OCI registry with its hardened front door, in one process');
registerServeCommand(program);
registerUserCommand(program);
await program.parseAsync(process.argv);
