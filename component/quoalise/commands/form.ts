/** XEP-0004 data forms, as Quoalise commands use them: submitted fields in, forms and result forms out. */
import { xml, type Element } from '../../xmpp/xml.js';
import { NS } from '../../xmpp/namespaces.js';

export interface FieldSpec {
  var: string;
  label: string;
  /** Shown to the person filling the form: say what the field means and its format. */
  desc: string;
  required?: boolean;
  /** The default value offered. */
  value?: string;
}

/**
 * The fields of the `x type="submit"` a command element carries, by `var` (first value, trimmed;
 * empty values are left out, as if the field was absent); null when the command holds no submitted form.
 */
export function submittedFields(command: Element): Map<string, string> | null {
  const x = command.getChildren('x', NS.dataForms).find((f) => f.attrs.type === 'submit');
  if (!x) return null;
  const fields = new Map<string, string>();
  for (const f of x.getChildren('field')) {
    const name = f.attrs.var;
    const value = f.getChildText('value')?.trim();
    if (name && value) fields.set(name, value);
  }
  return fields;
}

/** The form of the two-step flow's first answer, all fields text-single (as quoalise.md defines them). */
export function formElement(title: string, instructions: string, fields: FieldSpec[]): Element {
  return xml(
    'x',
    { xmlns: NS.dataForms, type: 'form' },
    xml('title', {}, title),
    xml('instructions', {}, instructions),
    ...fields.map((f) =>
      xml(
        'field',
        { var: f.var, type: 'text-single', label: f.label },
        xml('desc', {}, f.desc),
        f.required ? xml('required') : null,
        f.value !== undefined ? xml('value', {}, f.value) : null,
      ),
    ),
  );
}

/** The result form every successful Quoalise answer starts with: a title and `result` = `Success`. */
export function resultForm(title: string): Element {
  return xml('x', { xmlns: NS.dataForms, type: 'result' }, xml('title', {}, title), xml('field', { var: 'result', type: 'fixed' }, xml('value', {}, 'Success')));
}
