/**
 * kombu/pidbox.py `Mailbox` names for Celery's control mailbox (namespace `control_exchange`,
 * default `celery`), kombu 5.7.0; the same on every broker.
 */
export interface PidboxNames {
  /** `<ns>.pidbox`, fanout (`Mailbox._get_exchange`). */
  exchange: string;
  /** `reply.<ns>.pidbox`, direct (`Mailbox._get_reply_exchange`). */
  replyExchange: string;
  /** `<hostname>.<ns>.pidbox` (`Mailbox.get_queue`). */
  nodeQueue(hostname: string): string;
  /** `<oid>.reply.<ns>.pidbox` (`Mailbox.get_reply_queue`). */
  replyQueue(oid: string): string;
}

export function pidboxNames(namespace = "celery"): PidboxNames {
  return {
    exchange: `${namespace}.pidbox`,
    replyExchange: `reply.${namespace}.pidbox`,
    nodeQueue: (hostname) => `${hostname}.${namespace}.pidbox`,
    replyQueue: (oid) => `${oid}.reply.${namespace}.pidbox`,
  };
}

/** Celery's default `control_queue_expires` (10 s) and kombu's `REPLY_QUEUE_EXPIRES` (10 s). */
export const CONTROL_QUEUE_EXPIRES = 10;
export const REPLY_QUEUE_EXPIRES = 10;
