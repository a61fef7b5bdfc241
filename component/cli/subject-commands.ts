/** `fedgate subject add|list|remove`: the data subjects, the series about them, and the JID through which they decide. */
import { Command } from 'commander';
import { Parties, PartyError } from '../consent/parties.js';
import { contextOf, formatTable, operation, printListOrTable } from './context.js';

const collect = (v: string, acc: string[] = []) => [...acc, v];

export function subjectCommands(): Command {
  const cmd = new Command('subject').description('data subjects: who the series are about, and who decides for them');

  cmd
    .command('add <name>')
    .description('bind a data subject (a person, a household) to the series about them; requests for those series are theirs to decide')
    .requiredOption('--series <glob>', 'an identifier or glob of series about them (repeatable)', collect)
    .option('--jid <jid>', 'the bare JID through which they decide (without one, the operator decides for them at the CLI)')
    .action(function (this: Command, name: string, o: { series: string[]; jid?: string }) {
      const s = operation(() => new Parties(contextOf(this).db).addSubject(name, o.series, o.jid ?? null), PartyError);
      process.stdout.write(`added subject ${s.name}${s.jid ? ` (decides as ${s.jid})` : ''}: ${s.series.join(' ')}\n`);
    });

  cmd
    .command('list')
    .description('list the data subjects')
    .option('--json', 'machine-readable output')
    .action(function (this: Command, o: { json?: boolean }) {
      const list = new Parties(contextOf(this).db).subjects();
      printListOrTable(!!o.json, list, () =>
        list.length === 0 ? 'no data subjects\n' : formatTable([['NAME', 'JID', 'SERIES'], ...list.map((s) => [s.name, s.jid ?? '-', s.series.join(' ')])]),
      );
    });

  cmd
    .command('remove <name>')
    .alias('rm')
    .description('remove a data subject; consents about them stay as they are (withdraw them with fedgate consent withdraw)')
    .action(function (this: Command, name: string) {
      operation(() => new Parties(contextOf(this).db).removeSubject(name), PartyError);
      process.stdout.write(`removed subject ${name}\n`);
    });

  return cmd;
}
