// The search contract: real queries people type and what must come first. Every backend runs
// the same list (subgraphs/search/test/contract.ts): PostgreSQL always, Elasticsearch when it is
// there. bench/search.ts sends the station queries as its load.

const MUMBAI = ['CSMT', 'MMCT', 'LTT', 'BDTS', 'DR', 'DDR', 'BVI'];
const BENGALURU = ['SBC', 'YNK', 'KJM', 'SMVT', 'BNC', 'YPR'];
const CHENNAI = ['MAS', 'MS', 'PER', 'TBM'];
const KOLKATA = ['KOAA', 'HWH', 'SDAH', 'SHM'];
const HYDERABAD = ['HYB', 'KCG', 'LPI', 'SC'];
const RAJDHANI = [
  '12301',
  '12302',
  '12309',
  '12310',
  '12313',
  '12423',
  '12425',
  '12431',
  '12433',
  '12951',
  '12952',
  '12953',
  '12957',
  '22221',
  '22691',
];
const SHATABDI = [
  '12001',
  '12002',
  '12007',
  '12009',
  '12011',
  '12013',
  '12015',
  '12017',
  '12027',
  '12028',
  '12023',
  '12051',
  '12077',
];
const DURONTO = ['12259', '12261', '12263', '12269', '12273', '12285'];

export interface ContractCase {
  kind: 'stations' | 'trains';
  query: string;
  /** The first hit is this one. */
  top?: string;
  /** The first hit is one of these. */
  topAnyOf?: string[];
  /** All of these are among the first `within` hits. */
  includes?: string[];
  within?: number;
  /** No hits at all. */
  empty?: boolean;
  why: string;
}

export const CONTRACT: ContractCase[] = [
  // Exact codes first, any case.
  { kind: 'stations', query: 'NDLS', top: 'NDLS', why: 'exact code' },
  { kind: 'stations', query: 'ndls', top: 'NDLS', why: 'exact code, lower case' },
  { kind: 'stations', query: 'mas', top: 'MAS', why: 'exact code that is also a word prefix' },
  { kind: 'stations', query: 'HWH', top: 'HWH', why: 'exact code' },
  { kind: 'stations', query: 'sbc', top: 'SBC', why: 'exact code' },
  { kind: 'stations', query: 'CSMT', top: 'CSMT', why: 'exact code' },
  // Typos: 1-2 edits by length.
  { kind: 'stations', query: 'mumbi', topAnyOf: MUMBAI, why: 'one letter missing' },
  { kind: 'stations', query: 'banglore', topAnyOf: BENGALURU, why: 'misspelt old name' },
  { kind: 'stations', query: 'chenai', topAnyOf: CHENNAI, why: 'one letter missing' },
  { kind: 'stations', query: 'kolkatta', topAnyOf: KOLKATA, why: 'one letter too many' },
  { kind: 'stations', query: 'hydrabad', topAnyOf: HYDERABAD, why: 'one letter missing' },
  { kind: 'stations', query: 'secunderbad', top: 'SC', why: 'one letter missing in a long word' },
  { kind: 'stations', query: 'ahmedbad', top: 'ADI', why: 'one letter missing' },
  { kind: 'stations', query: 'visakapatnam', top: 'VSKP', why: 'one letter missing' },
  // Prefix as you type.
  { kind: 'stations', query: 'new del', top: 'NDLS', why: 'two words being typed' },
  { kind: 'stations', query: 'sec', top: 'SC', why: 'first letters' },
  {
    kind: 'stations',
    query: 'nizam',
    includes: ['NZB', 'NZM'],
    within: 2,
    why: 'first letters of two names (Nizamabad, Nizamuddin)',
  },
  { kind: 'stations', query: 'hazrat niz', top: 'NZM', why: 'two words being typed' },
  { kind: 'stations', query: 'chhatrapati', top: 'CSMT', why: 'first word of a long name' },
  { kind: 'stations', query: 'anand vi', top: 'ANVT', why: 'two words being typed' },
  // Names and cities.
  { kind: 'stations', query: 'new delhi', top: 'NDLS', why: 'full name' },
  { kind: 'stations', query: 'mumbai', topAnyOf: MUMBAI, why: 'city' },
  { kind: 'stations', query: 'howrah', top: 'HWH', why: 'name' },
  { kind: 'stations', query: 'sealdah', top: 'SDAH', why: 'name' },
  { kind: 'stations', query: 'amritsar', top: 'ASR', why: 'name' },
  { kind: 'stations', query: 'jaipur', top: 'JP', why: 'name' },
  { kind: 'stations', query: 'lucknow', topAnyOf: ['LKO', 'LJN'], why: 'city of two stations' },
  { kind: 'stations', query: 'patna', topAnyOf: ['PNBE', 'PPTA', 'RJPB', 'DNR'], why: 'city' },
  { kind: 'stations', query: 'tambaram', top: 'TBM', why: 'name' },
  // Old names and other aliases.
  { kind: 'stations', query: 'bombay', topAnyOf: MUMBAI, includes: ['CSMT', 'MMCT'], within: 7, why: 'old city name' },
  { kind: 'stations', query: 'madras', topAnyOf: CHENNAI, includes: ['MAS', 'MS'], within: 4, why: 'old city name' },
  { kind: 'stations', query: 'gurgaon', top: 'GGN', why: 'old city name' },
  {
    kind: 'stations',
    query: 'calcutta',
    topAnyOf: KOLKATA,
    includes: ['HWH', 'KOAA', 'SDAH'],
    within: 4,
    why: 'old city name',
  },
  { kind: 'stations', query: 'poona', top: 'PUNE', why: 'old city name' },
  { kind: 'stations', query: 'baroda', top: 'BRC', why: 'old city name' },
  { kind: 'stations', query: 'bangalore', topAnyOf: BENGALURU, why: 'old city name' },
  { kind: 'stations', query: 'trivandrum', top: 'TVC', why: 'old city name' },
  { kind: 'stations', query: 'victoria terminus', top: 'CSMT', why: 'old station name' },
  { kind: 'stations', query: 'kurla', top: 'LTT', why: 'local name' },
  { kind: 'stations', query: 'vizag', topAnyOf: ['VSKP', 'DVD'], why: 'short name' },
  { kind: 'stations', query: 'qwxzv', empty: true, why: 'nothing like it' },
  // Hindi: each station's Devanagari name (an alias), typed as a traveller would.
  { kind: 'stations', query: 'नई दिल्ली', top: 'NDLS', why: 'Hindi name' },
  { kind: 'stations', query: 'नई दिली', top: 'NDLS', why: 'typo in a Hindi name' },
  { kind: 'stations', query: 'मुंबई सेंट्रल', top: 'MMCT', why: 'Hindi name' },
  { kind: 'stations', query: 'चेन्नई सेंट्रल', top: 'MAS', why: 'Hindi name' },
  // Trains by number.
  { kind: 'trains', query: '12951', top: '12951', why: 'exact number' },
  {
    kind: 'trains',
    query: '1295',
    includes: ['12951', '12952', '12953', '12957'],
    within: 4,
    why: 'number being typed',
  },
  { kind: 'trains', query: '2269', top: '22691', why: 'number being typed' },
  // Trains by name.
  { kind: 'trains', query: 'rajdhani', topAnyOf: RAJDHANI, why: 'train type in the name' },
  { kind: 'trains', query: 'rajdani', topAnyOf: RAJDHANI, why: 'typo' },
  { kind: 'trains', query: 'shatabdi', topAnyOf: SHATABDI, why: 'train type in the name' },
  { kind: 'trains', query: 'duronto', topAnyOf: DURONTO, why: 'train type in the name' },
  { kind: 'trains', query: 'deccan queen', includes: ['12123', '12124'], within: 2, why: 'name' },
  { kind: 'trains', query: 'decan queen', includes: ['12123', '12124'], within: 2, why: 'typo in a name' },
  { kind: 'trains', query: 'gitanjali', includes: ['12859', '12860'], within: 2, why: 'name' },
  { kind: 'trains', query: 'garib rath', includes: ['12215', '12909'], within: 2, why: 'name' },
  { kind: 'trains', query: 'tamil nadu express', top: '12621', why: 'full name' },
  { kind: 'trains', query: 'mumbai rajdhani', topAnyOf: ['12951', '12952', '12953'], why: 'two words of a name' },
];
