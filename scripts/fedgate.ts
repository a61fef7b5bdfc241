#!/usr/bin/env node
/** The `fedgate` command. Signals are caught before anything else loads (component/cli/early-signals.ts). */
import '../component/cli/early-signals.js';

await import('../component/cli/program.js');
