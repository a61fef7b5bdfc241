/**
 * bench:lanes — write-lock time of 100 lane failures with 1,000,000 rows queued (also the last figure
 * of bench:relay), beside the previous design measured in the same run.
 *   npm run bench:lanes [-- --rows 1000000 --failures 100]
 */
import { parseArgs } from 'node:util';
import { measureLaneHolds, printLaneHolds } from './lib/lane-holds.js';

const { values } = parseArgs({ options: { rows: { type: 'string', default: '1000000' }, failures: { type: 'string', default: '100' } } });
printLaneHolds(measureLaneHolds(Number(values.rows), Number(values.failures)));
