import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type ICreateClientOpts, type MatrixClient } from 'matrix-js-sdk';
import { NO_RATE_LIMITS } from '../harness/ratelimits.js';
import { startServer, type TestServer } from '../harness/server.js';

type SdkLogger = NonNullable<ICreateClientOpts['logger']>;
const noop = () => {};
const quiet: SdkLogger = { trace: noop, debug: noop, info: noop, warn: noop, error: noop, getChild: () => quiet };
const sdk = (opts: ICreateClientOpts) => createClient({ logger: quiet, ...opts });

// A real client library against a running server: the calls an app makes right after sign-in.
describe('matrix-js-sdk 37 against Axon', () => {
  let s: TestServer;
  let client: MatrixClient;

  beforeAll(async () => {
    s = await startServer(NO_RATE_LIMITS);
    await s.registerUser('jsuser', { password: 'js-password' });
  });
  afterAll(async () => {
    client?.stopClient();
    await s?.close();
  });

  it('discovers versions, logs in, reads whoami, devices, sets and reads the profile, logs out', async () => {
    const anon = sdk({ baseUrl: s.url });
    const versions = await anon.getVersions();
    expect(versions.versions).toContain('v1.6');

    const login = await anon.loginRequest({
      type: 'm.login.password',
      identifier: { type: 'm.id.user', user: 'jsuser' },
      password: 'js-password',
      initial_device_display_name: 'js-sdk test',
    });
    expect(login.user_id).toBe('@jsuser:localhost');
    expect(login.well_known?.['m.homeserver']?.base_url).toBe('http://localhost:8008/');

    client = sdk({ baseUrl: s.url, accessToken: login.access_token, userId: login.user_id, deviceId: login.device_id });
    const me = await client.whoami();
    expect(me.user_id).toBe('@jsuser:localhost');
    expect(me.device_id).toBe(login.device_id);

    const { devices } = await client.getDevices();
    const mine = devices.find((d) => d.device_id === login.device_id);
    expect(mine?.display_name).toBe('js-sdk test');

    await client.setDeviceDetails(login.device_id, { display_name: 'renamed by js-sdk' });
    expect((await client.getDevice(login.device_id)).display_name).toBe('renamed by js-sdk');

    await client.setDisplayName('JS User');
    await client.setAvatarUrl('mxc://localhost/jsavatar');
    expect(await client.getProfileInfo('@jsuser:localhost')).toEqual({ displayname: 'JS User', avatar_url: 'mxc://localhost/jsavatar' });
    expect(await client.getProfileInfo('@jsuser:localhost', 'displayname')).toEqual({ displayname: 'JS User' });

    const caps = await client.getCapabilities();
    expect(caps['m.room_versions']?.default).toBe('10');

    await client.logout();
    const after = await s.request('GET', '/_matrix/client/v3/account/whoami', { token: login.access_token });
    expect(after.status).toBe(401);
    expect(after.body.errcode).toBe('M_UNKNOWN_TOKEN');
  });

  it('surfaces Synapse-style errors as MatrixError with errcode and status', async () => {
    const anon = sdk({ baseUrl: s.url });
    await expect(anon.loginWithPassword('jsuser', 'wrong')).rejects.toMatchObject({ errcode: 'M_FORBIDDEN', httpStatus: 403 });
    await expect(anon.getProfileInfo('@ghost:localhost')).rejects.toMatchObject({ errcode: 'M_NOT_FOUND', httpStatus: 404 });
  });
});
