/**
 * `list` (newest first: ids falling) with `item` put in its place by id, cut to `max` items. Ids
 * grow, so this is nearly always the front; replayed items still land in order. The caller
 * checks that the id is not there already.
 */
export function insertNewestFirst<T extends { readonly id: number }>(list: readonly T[], item: T, max: number): readonly T[] {
  const at = list.findIndex((other) => other.id < item.id);
  const next = at === -1 ? [...list, item] : [...list.slice(0, at), item, ...list.slice(at)];
  return next.length > max ? next.slice(0, max) : next;
}
