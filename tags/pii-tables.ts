// The reference data the user-data normalisers (pii-normalize.ts) look values up in: US/Canadian
// region codes and country names. Phone numbering plans come from libphonenumber-js (pii-phone.ts).

/** Diacritic-free ASCII letters only, the key of the name tables: "Québec" and "quebec" meet. */
export const lookupKey = (s: string): string => s.normalize('NFD').toLowerCase().replace(/[^a-z]/g, '')

/** US states and territories, Canadian provinces and territories: name → postal code. */
export const US_CA_REGIONS: ReadonlyMap<string, string> = new Map(('alabama:al,alaska:ak,arizona:az,arkansas:ar,california:ca,colorado:co,connecticut:ct,' +
  'delaware:de,districtofcolumbia:dc,washingtondc:dc,florida:fl,georgia:ga,hawaii:hi,idaho:id,illinois:il,' +
  'indiana:in,iowa:ia,kansas:ks,kentucky:ky,louisiana:la,maine:me,maryland:md,massachusetts:ma,michigan:mi,' +
  'minnesota:mn,mississippi:ms,missouri:mo,montana:mt,nebraska:ne,nevada:nv,newhampshire:nh,newjersey:nj,' +
  'newmexico:nm,newyork:ny,northcarolina:nc,northdakota:nd,ohio:oh,oklahoma:ok,oregon:or,pennsylvania:pa,' +
  'rhodeisland:ri,southcarolina:sc,southdakota:sd,tennessee:tn,texas:tx,utah:ut,vermont:vt,virginia:va,' +
  'washington:wa,westvirginia:wv,wisconsin:wi,wyoming:wy,puertorico:pr,guam:gu,americansamoa:as,' +
  'virginislands:vi,usvirginislands:vi,northernmarianaislands:mp,alberta:ab,britishcolumbia:bc,manitoba:mb,' +
  'newbrunswick:nb,newfoundlandandlabrador:nl,newfoundland:nl,novascotia:ns,ontario:on,princeedwardisland:pe,' +
  'quebec:qc,saskatchewan:sk,northwestterritories:nt,nunavut:nu,yukon:yt').split(',').map(p => p.split(':') as [string, string]))

/** Country names and ISO alpha-3 codes of the main markets → ISO 3166-1 alpha-2, lower-case. */
export const COUNTRY_NAMES: ReadonlyMap<string, string> = new Map(('unitedstates:us,unitedstatesofamerica:us,usa:us,america:us,uk:gb,unitedkingdom:gb,' +
  'greatbritain:gb,britain:gb,england:gb,scotland:gb,wales:gb,northernireland:gb,gbr:gb,canada:ca,can:ca,' +
  'ireland:ie,irl:ie,germany:de,deutschland:de,deu:de,france:fr,fra:fr,spain:es,espana:es,esp:es,italy:it,' +
  'italia:it,ita:it,netherlands:nl,thenetherlands:nl,holland:nl,nederland:nl,nld:nl,belgium:be,belgique:be,' +
  'belgie:be,bel:be,austria:at,osterreich:at,aut:at,switzerland:ch,schweiz:ch,suisse:ch,svizzera:ch,che:ch,' +
  'sweden:se,sverige:se,swe:se,norway:no,norge:no,nor:no,denmark:dk,danmark:dk,dnk:dk,finland:fi,suomi:fi,' +
  'fin:fi,poland:pl,polska:pl,pol:pl,portugal:pt,prt:pt,czechia:cz,czechrepublic:cz,cze:cz,australia:au,' +
  'aus:au,newzealand:nz,nzl:nz,japan:jp,jpn:jp,brazil:br,brasil:br,bra:br,mexico:mx,mex:mx,india:in,ind:in,' +
  'southafrica:za,singapore:sg,hongkong:hk,unitedarabemirates:ae,israel:il,turkey:tr,turkiye:tr,' +
  'southkorea:kr,korea:kr,romania:ro,greece:gr,luxembourg:lu,china:cn').split(',').map(p => p.split(':') as [string, string]))
