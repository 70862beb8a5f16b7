/** The XML form of a transactions response, rebuilt in the JSON shape so both formats follow the same rules. */
import type { ParsedPage } from '../../model/index.js';
import { RAW_LIMIT, nonEmptyString } from './json.js';
import { parseTransactionRecord } from './records.js';
import { childText, localName, readXml, type XmlElement } from './xml-reader.js';

/**
 * Parses the XML form of a transactions response (Yahoo's default format). Each
 * `<transaction>` is rebuilt in the JSON shape and goes through `parseTransactionRecord`,
 * so both formats follow the same rules. A body that is not well-formed XML is one
 * rejected record.
 */
export function parseTransactionsXml(xml: string): ParsedPage {
  const page: ParsedPage = { rows: [], rejected: [], recordCount: 0 };
  if (typeof xml !== 'string') return page;
  const root = readXml(xml);
  if (root === null) {
    page.rejected.push({ raw: xml.slice(0, RAW_LIMIT), reason: 'response is not well-formed XML' });
    return page;
  }
  for (const { collection, owner } of findXmlTransactionCollections(root, null)) {
    const fallbackLeagueKey = owner !== null && localName(owner.name) === 'league'
      ? nonEmptyString(childText(owner, 'league_key'))
      : null;
    for (const element of collection.children.filter((child) => localName(child.name) === 'transaction')) {
      page.recordCount += 1;
      const result = parseTransactionRecord(transactionRecordOfXml(element), fallbackLeagueKey);
      page.rows.push(...result.rows);
      page.rejected.push(...result.rejected);
    }
  }
  return page;
}

function findXmlTransactionCollections(
  element: XmlElement,
  parent: XmlElement | null,
): Array<{ collection: XmlElement; owner: XmlElement | null }> {
  if (localName(element.name) === 'transactions') return [{ collection: element, owner: parent }];
  return element.children.flatMap((child) => findXmlTransactionCollections(child, element));
}

/** `<transaction>` -> `{"transaction": [metadata, {"players": {"0": {"player": [identity, {transaction_data}]}}}]}`. */
function transactionRecordOfXml(element: XmlElement): unknown {
  const metadata = Object.fromEntries(element.children
    .filter((child) => localName(child.name) !== 'players')
    .map((child) => [localName(child.name), xmlValue(child)]));
  const playersElement = element.children.find((child) => localName(child.name) === 'players');
  if (playersElement === undefined) return { transaction: [metadata] };
  const players = Object.fromEntries(playersElement.children
    .filter((child) => localName(child.name) === 'player')
    .map((player, index) => [String(index), { player: playerOfXml(player) }]));
  return { transaction: [metadata, { players }] };
}

function playerOfXml(player: XmlElement): unknown[] {
  const identity = Object.fromEntries(player.children
    .filter((child) => localName(child.name) !== 'transaction_data')
    .map((child) => [localName(child.name), xmlValue(child)]));
  const movement = player.children.find((child) => localName(child.name) === 'transaction_data');
  return movement === undefined ? [identity] : [identity, { transaction_data: xmlValue(movement) }];
}

/** A leaf element becomes its text, any other element an object of its children. */
function xmlValue(element: XmlElement): unknown {
  if (element.children.length === 0) return element.text.trim();
  return Object.fromEntries(element.children.map((child) => [localName(child.name), xmlValue(child)]));
}
