// The development OTP simulator over HTTP, as auth's sender and a developer use it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HttpServer } from '@tatkal/common';
import { otpText, simulatorOtpSender, OtpDeliveryError } from '../src/otp/sender.ts';
import { createOtpSimulator, maskPhone } from '../src/otp/simulator.ts';

const simulator = createOtpSimulator();
let http: HttpServer;

beforeAll(async () => {
  http = await simulator.listen(0);
});
afterAll(async () => {
  await simulator.close();
});

describe('OTP simulator', () => {
  it('records what the sender delivered; GET /messages/latest?to= answers the newest code for a phone', async () => {
    const send = simulatorOtpSender(http.url);
    const expiresAt = new Date(Date.now() + 300_000);
    await send.send({ phone: '+919876543210', code: '111111', expiresAt });
    await send.send({ phone: '+919876543210', code: '222222', expiresAt });
    await send.send({ phone: '+918765432109', code: '333333', expiresAt });
    const latest = await (await fetch(`${http.url}/messages/latest?to=%2B919876543210`)).json();
    expect(latest).toMatchObject({ to: '+919876543210', code: '222222', expiresAt: expiresAt.toISOString() });
    expect(latest.text).toBe(otpText('222222', expiresAt, Date.parse(latest.receivedAt)));
    expect(simulator.messages('+919876543210').map((m) => m.code)).toEqual(['222222', '111111']);
    expect((await fetch(`${http.url}/messages/latest?to=%2B910000000000`)).status).toBe(404);
  });

  it('refuses a message without phone or code; a sender that cannot reach it fails (OtpDeliveryError)', async () => {
    const res = await fetch(`${http.url}/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ to: 'someone', code: 'abc' }),
    });
    expect(res.status).toBe(400);
    await expect(
      simulatorOtpSender('http://127.0.0.1:1').send({ phone: '+919876543210', code: '123456', expiresAt: new Date() }),
    ).rejects.toBeInstanceOf(OtpDeliveryError);
  });

  it('masks a phone number for answers and logs', () => {
    expect(maskPhone('+919876543210')).toBe('+91******3210');
    expect(maskPhone('123')).toBe('****');
  });
});
