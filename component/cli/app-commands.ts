/** `fedgate app add|list|show|set|remove`: the application registry from the shell. */
import { Command } from 'commander';
import { AppRegistry, RegistryError } from '../registry/apps.js';
import { adapterKinds } from '../../adapters/index.js';
import { Parties, PartyError } from '../consent/parties.js';
import { CliError, contextOf, formatTable, operation, operator, parseOption, printJsonOrTable, printListOrTable } from './context.js';

function registry(cmd: Command): AppRegistry {
  return new AppRegistry(contextOf(cmd).db);
}

const wrap = <T>(fn: () => T): T => operation(fn, RegistryError);

export function appCommands(): Command {
  const app = new Command('app').description('manage the applications served on the subdomain');
  const kinds = [...adapterKinds.values()].map((m) => `  ${m.kind.padEnd(10)} ${m.description}`).join('\n');

  app
    .command('add <name>')
    .description('add an application; its JID is <name>@<link.domain>. The running gateway picks it up within a second.')
    .requiredOption('-k, --kind <kind>', 'adapter kind')
    .option('-o, --option <key=value>', 'adapter option, or isolation=shared|own (its thread; default: the kind\'s) (repeatable; JSON values allowed)', parseOption, {})
    .option('-d, --description <text>', 'human-readable name, shown in service discovery', '')
    .addHelpText('after', `\nAdapter kinds:\n${kinds}`)
    .action(function (this: Command, name: string, o: { kind: string; option: Record<string, unknown>; description: string }) {
      const rec = wrap(() => registry(this).add({ name, kind: o.kind, options: o.option, description: o.description }));
      process.stdout.write(`added ${rec.name} (${rec.kind})\n`);
    });

  app
    .command('set <name>')
    .description('replace an application\'s options (its worker restarts), description, or owners (who decide for its series about no data subject)')
    .option('-o, --option <key=value>', 'adapter option (repeatable); replaces all options', parseOption)
    .option('-d, --description <text>', 'human-readable name')
    .option('--owner [jid...]', 'the owners\' bare JIDs; replaces all owners (--owner with no JID: none)')
    .action(function (this: Command, name: string, o: { option?: Record<string, unknown>; description?: string; owner?: string[] | true }) {
      const { db } = contextOf(this);
      // Owners live beside the app: changing them does not restart its worker.
      if (o.owner !== undefined) {
        const owners = operation(() => new Parties(db).setOwners(name, o.owner === true ? [] : o.owner!), PartyError);
        process.stdout.write(`owners of ${name}: ${owners.join(' ') || 'none'}\n`);
      }
      if (o.option || o.description !== undefined || o.owner === undefined) {
        const rec = wrap(() => registry(this).update(name, { ...(o.option ? { options: o.option } : {}), ...(o.description !== undefined ? { description: o.description } : {}) }));
        process.stdout.write(`updated ${rec.name}\n`);
      }
    });

  app
    .command('list')
    .description('list the applications')
    .option('--json', 'machine-readable output')
    .action(function (this: Command, o: { json?: boolean }) {
      const apps = registry(this).list();
      printListOrTable(!!o.json, apps, () =>
        apps.length === 0 ? 'no applications (add one with: fedgate app add NAME --kind KIND)\n' : formatTable([['NAME', 'KIND', 'DESCRIPTION'], ...apps.map((a) => [a.name, a.kind, a.description])]),
      );
    });

  app
    .command('show <name>')
    .description('show one application')
    .option('--json', 'machine-readable output')
    .action(function (this: Command, name: string, o: { json?: boolean }) {
      const ctx = contextOf(this);
      const rec = new AppRegistry(ctx.db).get(name);
      if (!rec) throw new CliError(`no app named "${name}"`, 1);
      const owners = new Parties(ctx.db).owners(rec.name);
      const view = { ...rec, jid: `${rec.name}@${ctx.config.link.domain}`, owners };
      printJsonOrTable(!!o.json, view, () =>
        formatTable([
          ['name', rec.name],
          ['jid', view.jid],
          ['kind', rec.kind],
          ['description', rec.description],
          ['options', JSON.stringify(rec.options)],
          ['owners', owners.join(' ') || '-'],
          ['created', new Date(rec.createdAt).toISOString()],
          ['updated', new Date(rec.updatedAt).toISOString()],
        ]),
      );
    });

  app
    .command('remove <name>')
    .alias('rm')
    .description('remove an application; the running gateway stops serving it within a second; its open consent records are invalidated (and kept); what its inbox still held goes to the dead letters')
    .action(function (this: Command, name: string) {
      wrap(() => registry(this).remove(name, operator(this)));
      process.stdout.write(`removed ${name}\n`);
    });

  return app;
}
