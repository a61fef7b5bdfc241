/**
 * The record of processing activities (GDPR Art. 30), generated from what the gateway knows — never
 * typed by hand, so it cannot drift: `fedgate gdpr register [--json]`. One activity per app: who
 * controls it (its owners), what data (categories, from its series' metadata; how many data subjects),
 * why and on which legal basis (the consents and grants in force), to whom (recipients allowed, and
 * those the transparency log shows actually received data), transfers outside the gateway's domain,
 * and how long the data is kept (the app's policies, and the limits consents set for recipients).
 */
import type { Db } from '../store/database.js';
import type { Logger } from '../log/logger.js';
import type { Meta } from '../quoalise/types.js';
import { patternsOverlap } from '../transfer/series-pattern.js';
import { ConsentStore } from '../consent/consent-store.js';
import { Parties } from '../consent/parties.js';
import { isLive, LEGAL_BASES } from '../consent/model.js';
import { RetentionPolicies } from './retention-policies.js';
import { appStorages } from './app-storage.js';
import { Disclosures } from './disclosures.js';

export interface Activity {
  app: string;
  jid: string;
  kind: string;
  description: string;
  /** Who decides for the app's data about no identified person: its controller's accounts. */
  owners: string[];
  /** Kinds of data, from the series' metadata ("consumption active-power, W, mean every PT30M, of an electricity-meter"). */
  categories: string[];
  series: number;
  /** Data subjects whose series the app holds or may hold. */
  subjects: number;
  purposes: Array<{ purpose: string; purposeTerm: string | null; legalBasis: string; legalBasisTerm: string; recipients: string[]; retention: string[] }>;
  /** Who may read the app's data now (consents and grants in force) and who received it (the log). */
  recipients: { allowed: string[]; received: string[] };
  /** Recipients outside the gateway's domain (other servers, possibly other organisations or countries). */
  transfersOutside: string[];
  retention: { policies: Array<{ series: string; period: string }>; recipientLimits: string[] };
  /** False when the app's system keeps its data where fedgate cannot read its metadata. */
  readable: boolean;
}

export interface RegisterDoc {
  gateway: string;
  controller: string | null;
  contact: string | null;
  generatedAt: string;
  activities: Activity[];
}

function category(meta: Meta): string | null {
  const m = meta.measurement as Record<string, unknown> | undefined;
  const d = meta.device as Record<string, unknown> | undefined;
  if (!m && !d) return null;
  const words = [m?.direction, m?.name ?? m?.quantity].filter(Boolean).join(' ');
  const how = [m?.unit, m?.aggregation, m?.['sampling-interval'] ? `every ${String(m['sampling-interval'])}` : null].filter(Boolean).join(', ');
  return `${words || 'measurements'}${how ? ` (${how})` : ''}${d?.type ? ` of a ${String(d.type)}` : ''}`;
}

const domainOf = (jid: string) => jid.slice(jid.indexOf('@') + 1);

export async function buildRegister(o: { db: Db; databasePath: string; domain: string; log: Logger; controller?: string; contact?: string; now?: number }): Promise<RegisterDoc> {
  const disclosures = new Disclosures(o.db);
  disclosures.catchUp();
  const consents = new ConsentStore(o.db);
  const parties = new Parties(o.db);
  const policies = new RetentionPolicies(o.db);
  const subjects = parties.subjects();
  const activities: Activity[] = [];
  for (const { app, module, ctx } of appStorages(o.db, o)) {
    const categories = new Set<string>();
    const held: string[] = [];
    if (module.read) {
      for await (const chunk of module.read(ctx, { series: '*', records: false })) {
        held.push(chunk.series.identifier);
        const c = category(chunk.series.meta);
        if (c) categories.add(c);
      }
    }
    const live = consents.list({ app: app.name, limit: Number.MAX_SAFE_INTEGER }).filter((c) => isLive(c.state) && (c.notAfter === null || c.notAfter > (o.now ?? Date.now())));
    const purposes = new Map<string, Activity['purposes'][number]>();
    for (const c of live) {
      const key = `${c.purpose}\u0000${c.purposeTerm}\u0000${c.legalBasis}`;
      let p = purposes.get(key);
      if (!p) purposes.set(key, (p = { purpose: c.purpose || '(none given)', purposeTerm: c.purposeTerm, legalBasis: c.legalBasis, legalBasisTerm: LEGAL_BASES[c.legalBasis], recipients: [], retention: [] }));
      if (!p.recipients.includes(c.recipient)) p.recipients.push(c.recipient);
      if (c.retention && !p.retention.includes(c.retention)) p.retention.push(c.retention);
    }
    const received = [...new Set(disclosures.of(['*'], app.name).map((d) => d.recipient))].sort();
    const allowed = [...new Set(live.map((c) => c.recipient))].sort();
    const everyone = [...new Set([...allowed, ...received])];
    activities.push({
      app: app.name,
      jid: `${app.name}@${o.domain}`,
      kind: app.kind,
      description: app.description ?? '',
      owners: parties.owners(app.name),
      categories: [...categories].sort(),
      series: held.length,
      subjects: subjects.filter((s) => s.series.some((g) => held.some((h) => patternsOverlap(g, h)))).length,
      purposes: [...purposes.values()],
      recipients: { allowed, received },
      transfersOutside: everyone.filter((r) => r === '*' || domainOf(r) !== o.domain).sort(),
      retention: { policies: policies.list(app.name).map((p) => ({ series: p.series, period: p.period })), recipientLimits: [...new Set(live.filter((c) => c.retention).map((c) => `${c.recipient}: ${c.retention}`))] },
      readable: !!module.read,
    });
  }
  return { gateway: o.domain, controller: o.controller ?? null, contact: o.contact ?? null, generatedAt: new Date(o.now ?? Date.now()).toISOString(), activities };
}

/** The register as text, one section per activity. */
export function formatRegister(r: RegisterDoc): string {
  const list = (xs: string[], none = '-') => (xs.length ? xs.join(', ') : none);
  let out = `Record of processing activities (GDPR Art. 30) — gateway ${r.gateway}, generated ${r.generatedAt}\n`;
  out += `controller: ${r.controller ?? '(set gdpr.controller in the configuration)'}; contact: ${r.contact ?? '(set gdpr.contact)'}\n`;
  for (const a of r.activities) {
    out += `\n${a.jid} (${a.kind})${a.description ? ` — ${a.description}` : ''}\n`;
    out += `  controller's accounts (owners): ${list(a.owners, 'none: the gateway operator decides')}\n`;
    out += `  data: ${a.readable ? `${a.series} series; ${list(a.categories, 'no metadata')}` : 'kept in the app\'s own system (not readable by fedgate)'}; data subjects: ${a.subjects}\n`;
    out += `  purposes and legal bases:${a.purposes.length ? '' : ' none in force (nobody may read the data)'}\n`;
    for (const p of a.purposes) out += `    - ${p.purpose}${p.purposeTerm ? ` (${p.purposeTerm})` : ''}: ${p.legalBasis} (${p.legalBasisTerm}) → ${list(p.recipients)}${p.retention.length ? `; recipients may keep it ${list(p.retention)}` : ''}\n`;
    out += `  recipients allowed: ${list(a.recipients.allowed)}\n  recipients that received data: ${list(a.recipients.received)}\n`;
    out += `  transfers outside ${r.gateway}: ${list(a.transfersOutside)}\n`;
    out += `  retention: ${list(a.retention.policies.map((p) => `${p.series} ${p.period}`), 'no policy: kept until erased')}${a.retention.recipientLimits.length ? `; limits set for recipients: ${list(a.retention.recipientLimits)}` : ''}\n`;
  }
  return out;
}
