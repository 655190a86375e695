import type { JetStreamClient } from "@nats-io/jetstream";
import { encodeSendCommand, outboundSubject, type SendCommand } from "@tessera/contract";

/**
 * Puts a SendCommand on the outbound work queue, with its id as the Nats-Msg-Id: publishing the same command
 * twice (a retry after a lost ack) queues it once. Throws on an invalid command, naming the field.
 */
export async function publishSendCommand(
  js: JetStreamClient,
  command: SendCommand,
  options: { timeoutMs?: number } = {},
): Promise<{ seq: number; duplicate: boolean }> {
  const subject = outboundSubject({
    channelType: command.channel_type,
    tenant: command.scope.tenant,
    account: command.scope.account,
  });
  const ack = await js.publish(subject, encodeSendCommand(command), {
    msgID: command.id,
    ...(options.timeoutMs !== undefined ? { timeout: options.timeoutMs } : {}),
  });
  return { seq: ack.seq, duplicate: ack.duplicate };
}
