/** XEP-0004 data forms, as Quoalise commands use them: submitted fields in, forms and result forms out. */
import { xml, type Element } from '../../xmpp/xml.js';
import { NS } from '../../xmpp/namespaces.js';
import { StanzaError, quoted } from '../../xmpp/stanza-error.js';

export interface FieldSpec {
  var: string;
  label: string;
  /** Shown to the person filling the form: say what the field means and its format. */
  desc: string;
  required?: boolean;
  /** The default value offered (several for list-multi). */
  value?: string | string[];
  /** text-single unless said (Quoalise's fields are all text-single). */
  type?: 'text-single' | 'list-single' | 'list-multi' | 'fixed';
  /** The choices of a list field. */
  options?: Array<{ value: string; label: string }>;
}

/**
 * The fields of the `x type="submit"` a command element carries, by `var` (its value, trimmed; empty
 * values are left out, as if the field was absent); null when the command holds no submitted form.
 * Quoalise's fields are single-valued: two values are a bad-request, not one of them served silently.
 */
export function submittedFields(command: Element): Map<string, string> | null {
  const all = submittedValues(command);
  if (!all) return null;
  for (const [name, values] of all) {
    if (values.length > 1) throw new StanzaError('bad-request', `the field ${quoted(name)} takes one value, not ${values.length}`);
  }
  return new Map([...all].map(([k, v]) => [k, v[0]!]));
}

/** Like submittedFields, with every value of each field (list-multi). A field given twice is a bad-request (XEP-0004: one per var). */
export function submittedValues(command: Element): Map<string, string[]> | null {
  const x = command.getChildren('x', NS.dataForms).find((f) => f.attrs.type === 'submit');
  if (!x) return null;
  const fields = new Map<string, string[]>();
  const seen = new Set<string>();
  for (const f of x.getChildren('field')) {
    const name = f.attrs.var;
    if (!name) continue;
    if (seen.has(name)) throw new StanzaError('bad-request', `the field ${quoted(name)} is given twice: give it once`);
    seen.add(name);
    const values = f.getChildren('value').map((v) => v.text().trim()).filter(Boolean);
    if (values.length) fields.set(name, values);
  }
  return fields;
}

/** The form of the two-step flow's first answer (Quoalise's fields are all text-single, as quoalise.md defines them). */
export function formElement(title: string, instructions: string, fields: FieldSpec[]): Element {
  return xml(
    'x',
    { xmlns: NS.dataForms, type: 'form' },
    xml('title', {}, title),
    xml('instructions', {}, instructions),
    ...fields.map((f) =>
      xml(
        'field',
        { var: f.var, type: f.type ?? 'text-single', label: f.label },
        xml('desc', {}, f.desc),
        f.required ? xml('required') : null,
        ...[f.value ?? []].flat().map((v) => xml('value', {}, v)),
        ...(f.options ?? []).map((o) => xml('option', { label: o.label }, xml('value', {}, o.value))),
      ),
    ),
  );
}

/** A result form of named values (`fields`, in order). */
export function valuesForm(title: string, fields: Array<{ var: string; label: string; value: string | null }>): Element {
  return xml(
    'x',
    { xmlns: NS.dataForms, type: 'result' },
    xml('title', {}, title),
    ...fields.filter((f) => f.value !== null).map((f) => xml('field', { var: f.var, label: f.label }, xml('value', {}, f.value!))),
  );
}

/** A result form holding a table (XEP-0004 §3.4: `reported` columns — var → label, in order — and one `item` per row). */
export function tableForm(title: string, columns: Record<string, string>, rows: Array<Record<string, string>>): Element {
  const vars = Object.keys(columns);
  return xml(
    'x',
    { xmlns: NS.dataForms, type: 'result' },
    xml('title', {}, title),
    xml('reported', {}, ...vars.map((v) => xml('field', { var: v, label: columns[v] }))),
    ...rows.map((r) => xml('item', {}, ...vars.map((v) => xml('field', { var: v }, xml('value', {}, r[v] ?? ''))))),
  );
}

/** The result form every successful Quoalise answer starts with: a title and `result` = `Success`. */
export function resultForm(title: string): Element {
  return xml('x', { xmlns: NS.dataForms, type: 'result' }, xml('title', {}, title), xml('field', { var: 'result', type: 'fixed' }, xml('value', {}, 'Success')));
}
