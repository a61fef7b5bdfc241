/**
 * The Quoalise envelope: `<quoalise xmlns="urn:quoalise:0">` holding one `data` (meta + sensml) per
 * metadata group, carried inline in command answers and in pushed messages.
 */
import type { Element } from '../xmpp/xml.js';
import { QuoaliseFormatError } from './errors.js';
import { decodeMeta, encodeMeta } from './meta.js';
import { NS_QUOALISE, NS_SENML } from './namespaces.js';
import { decodeSensml, encodeSensml, encodeSensmlRows, type TimeRange } from './senml.js';
import type { DataBlock, RowBlock } from './types.js';

/** Encodes blocks as a `quoalise` element string, one `data` per block, in order. */
export function encodeQuoalise(blocks: ReadonlyArray<DataBlock | RowBlock>): string {
  return encodeQuoaliseUpTo(blocks, Infinity).xml;
}

/**
 * `encodeQuoalise`, counting the records, and stopping (no XML) as soon as `limit` of them are reached:
 * get_history refuses such a range, and then encodes nothing.
 */
export function encodeQuoaliseUpTo(blocks: ReadonlyArray<DataBlock | RowBlock>, limit: number, rowRange?: TimeRange): { xml: string; count: number } {
  let out = `<quoalise xmlns="${NS_QUOALISE}">`;
  let count = 0;
  for (const block of blocks) {
    let sensml: string;
    if ('rows' in block) {
      const encoded = encodeSensmlRows(block.series, block.rows, limit - count, rowRange);
      count += encoded.count;
      sensml = encoded.xml;
    } else {
      count += block.records.length;
      if (count >= limit) return { xml: '', count };
      sensml = encodeSensml(block.records);
    }
    if (count >= limit) return { xml: '', count };
    out += `<data>${encodeMeta(block.meta)}${sensml}</data>`;
  }
  return { xml: out + '</quoalise>', count };
}

/**
 * Decodes every `data` child of a `quoalise` element, in order. Each must hold exactly one `meta` (the
 * reference client requires it; `<meta/>` is fine) and exactly one `sensml`. Other children, of
 * `quoalise` or of `data`, are ignored so that extensions can be added without breaking readers.
 * Throws QuoaliseFormatError (SenmlError for the records).
 */
export function decodeQuoalise(el: Element): DataBlock[] {
  if (!el.is('quoalise', NS_QUOALISE)) {
    throw new QuoaliseFormatError(`expected <quoalise xmlns="${NS_QUOALISE}">, got <${el.name}> in ${el.getNS() ?? 'no namespace'}`);
  }
  return el.getChildren('data', NS_QUOALISE).map((data, i) => {
    const metas = data.getChildren('meta', NS_QUOALISE);
    const sensmls = data.getChildren('sensml', NS_SENML);
    const [meta] = metas;
    const [sensml] = sensmls;
    if (meta === undefined) throw new QuoaliseFormatError(`quoalise data ${i} has no meta element`);
    if (metas.length > 1) throw new QuoaliseFormatError(`quoalise data ${i} has ${metas.length} meta elements, expected one`);
    if (sensml === undefined) throw new QuoaliseFormatError(`quoalise data ${i} has no sensml element`);
    if (sensmls.length > 1) throw new QuoaliseFormatError(`quoalise data ${i} has ${sensmls.length} sensml elements, expected one`);
    return { meta: decodeMeta(meta), records: decodeSensml(sensml) };
  });
}
