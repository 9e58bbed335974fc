// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {TestBase, Vm} from "./Vm.sol";
import {TestStablecoin} from "../src/TestStablecoin.sol";
import {PayoutRouter} from "../src/PayoutRouter.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// A token that answers `false` instead of reverting, as some ERC-20s do.
contract FalseToken {
    function transfer(address, uint256) external pure returns (bool) {
        return false;
    }
}

/// A token that returns nothing, as USDT does.
contract SilentToken {
    mapping(address => uint256) public balanceOf;

    function transfer(address to, uint256 value) external {
        balanceOf[to] += value;
    }
}

contract PayoutRouterTest is TestBase {
    TestStablecoin token;
    PayoutRouter router;
    address owner = address(0xA11CE);
    uint256 complianceKey = 0xC0FFEE;
    uint256 otherKey = 0xBAD;
    address submitter = address(0x5B);
    bytes32 decision = keccak256("decision-1");

    struct Item {
        bytes16 payoutId;
        address recipient;
        uint96 amount;
    }

    function setUp() public {
        token = new TestStablecoin("Test USD Coin", "USDC", owner);
        router = new PayoutRouter(owner, vm.addr(complianceKey), submitter);
        vm.prank(owner);
        token.mint(address(router), 1_000_000e6);
    }

    function _item(uint256 i, uint96 amount) internal pure returns (Item memory) {
        return Item({payoutId: bytes16(uint128(i + 1)), recipient: address(uint160(0x1000 + i)), amount: amount});
    }

    function _pack(Item[] memory items) internal pure returns (bytes memory packed) {
        for (uint256 i = 0; i < items.length; ++i) {
            packed = bytes.concat(packed, abi.encodePacked(items[i].recipient, items[i].amount, items[i].payoutId));
        }
    }

    function _signSingle(uint256 key, Item memory item, uint256 nonce, uint256 expiry)
        internal
        view
        returns (bytes memory)
    {
        bytes32 digest = router.payoutDigest(
            address(token), item.payoutId, item.recipient, item.amount, nonce, expiry, decision
        );
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        return abi.encodePacked(r, s, v);
    }

    function _signBatch(uint256 key, bytes memory packed, uint256 nonce, uint256 expiry)
        internal
        view
        returns (bytes memory)
    {
        bytes32 digest = router.batchDigest(address(token), packed, nonce, expiry, decision);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        return abi.encodePacked(r, s, v);
    }

    function _packOne(Item memory item) internal pure returns (bytes memory) {
        return abi.encodePacked(item.recipient, item.amount, item.payoutId);
    }

    function _pay(Item memory item, uint256 nonce, uint256 expiry, bytes memory sig) internal {
        router.pay(address(token), _packOne(item), nonce, expiry, decision, sig);
    }

    function test_batchDigestFollowsEip712() public view {
        bytes memory packed = abi.encodePacked(address(0x1000), uint96(1e6), bytes16(uint128(1)));
        bytes32 structHash = keccak256(
            abi.encode(router.BATCH_TYPEHASH(), address(token), keccak256(packed), uint256(7), uint256(99), decision)
        );
        bytes32 domain = keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256("Corridor PayoutRouter"),
                keccak256("1"),
                block.chainid,
                address(router)
            )
        );
        bytes32 expected = keccak256(abi.encodePacked(hex"1901", domain, structHash));
        vm.assertEq(router.batchDigest(address(token), packed, 7, 99, decision), expected);
    }

    function test_payWithValidAttestationEmitsIdAndDecision() public {
        Item memory item = _item(0, 25e6);
        bytes memory sig = _signSingle(complianceKey, item, 1, block.timestamp + 300);
        vm.recordLogs();
        vm.prank(submitter);
        _pay(item, 1, block.timestamp + 300, sig);
        vm.assertEq(token.balanceOf(item.recipient), 25e6);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        // The token's Transfer, then the router's topic-less record.
        vm.assertEq(logs.length, 2);
        vm.assertEq(logs[1].emitter, address(router));
        vm.assertEq(logs[1].topics.length, 0);
        vm.assertEq(logs[1].data, abi.encodePacked(decision, item.payoutId));
        vm.assertTrue(router.nonceUsed(1));
    }

    function test_RevertWhen_attestationReplayed() public {
        Item memory item = _item(0, 25e6);
        bytes memory sig = _signSingle(complianceKey, item, 1, block.timestamp + 300);
        vm.startPrank(submitter);
        _pay(item, 1, block.timestamp + 300, sig);
        vm.expectRevert(abi.encodeWithSelector(PayoutRouter.AttestationReplayed.selector, 1));
        _pay(item, 1, block.timestamp + 300, sig);
        vm.stopPrank();
    }

    function test_RevertWhen_nonceReusedByADifferentAttestation() public {
        Item[] memory items = new Item[](1);
        items[0] = _item(0, 1e6);
        bytes memory packed = _pack(items);
        vm.startPrank(submitter);
        router.payBatch(
            address(token),
            packed,
            300,
            block.timestamp + 300,
            decision,
            _signBatch(complianceKey, packed, 300, block.timestamp + 300)
        );
        Item memory other = _item(1, 2e6);
        bytes memory sig = _signSingle(complianceKey, other, 300, block.timestamp + 300);
        vm.expectRevert(abi.encodeWithSelector(PayoutRouter.AttestationReplayed.selector, 300));
        _pay(other, 300, block.timestamp + 300, sig);
        vm.stopPrank();
    }

    function test_RevertWhen_attestationExpired() public {
        vm.warp(10_000);
        Item memory item = _item(0, 25e6);
        bytes memory sig = _signSingle(complianceKey, item, 1, 9_999);
        vm.expectRevert(abi.encodeWithSelector(PayoutRouter.AttestationExpired.selector, 9_999));
        vm.prank(submitter);
        _pay(item, 1, 9_999, sig);
    }

    function test_RevertWhen_signedByWrongKey() public {
        Item memory item = _item(0, 25e6);
        bytes memory sig = _signSingle(otherKey, item, 1, block.timestamp + 300);
        vm.expectRevert(abi.encodeWithSelector(PayoutRouter.InvalidAttestationSigner.selector, vm.addr(otherKey)));
        vm.prank(submitter);
        _pay(item, 1, block.timestamp + 300, sig);
    }

    function test_RevertWhen_signatureMissing() public {
        Item memory item = _item(0, 25e6);
        vm.expectRevert(abi.encodeWithSelector(PayoutRouter.InvalidAttestationSigner.selector, address(0)));
        vm.prank(submitter);
        _pay(item, 1, block.timestamp + 300, "");
    }

    function test_RevertWhen_attestationForOnePayoutPaysAnother() public {
        Item memory approved = _item(0, 25e6);
        bytes memory sig = _signSingle(complianceKey, approved, 1, block.timestamp + 300);
        Item memory other = _item(1, 25e6);
        vm.expectRevert();
        vm.prank(submitter);
        _pay(other, 1, block.timestamp + 300, sig);
        vm.assertEq(token.balanceOf(other.recipient), 0);
    }

    function test_RevertWhen_callerIsNotSubmitter() public {
        Item memory item = _item(0, 25e6);
        bytes memory sig = _signSingle(complianceKey, item, 1, block.timestamp + 300);
        vm.expectRevert(abi.encodeWithSelector(PayoutRouter.NotSubmitter.selector, address(this)));
        _pay(item, 1, block.timestamp + 300, sig);
    }

    function test_payBatchPaysEveryItemOnceAndLogsEach() public {
        Item[] memory items = new Item[](100);
        for (uint256 i = 0; i < items.length; ++i) {
            items[i] = _item(i, uint96(1e6 + i));
        }
        bytes memory packed = _pack(items);
        bytes memory sig = _signBatch(complianceKey, packed, 5, block.timestamp + 300);
        vm.recordLogs();
        vm.prank(submitter);
        router.payBatch(address(token), packed, 5, block.timestamp + 300, decision, sig);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        vm.assertEq(logs.length, 200);
        for (uint256 i = 0; i < items.length; ++i) {
            vm.assertEq(token.balanceOf(items[i].recipient), 1e6 + i);
            vm.assertEq(logs[2 * i + 1].emitter, address(router));
            vm.assertEq(logs[2 * i + 1].data, abi.encodePacked(decision, items[i].payoutId));
        }
        vm.expectRevert(abi.encodeWithSelector(PayoutRouter.AttestationReplayed.selector, 5));
        vm.prank(submitter);
        router.payBatch(address(token), packed, 5, block.timestamp + 300, decision, sig);
    }

    function test_RevertWhen_batchItemTampered() public {
        Item[] memory items = new Item[](3);
        for (uint256 i = 0; i < items.length; ++i) {
            items[i] = _item(i, 1e6);
        }
        bytes memory sig = _signBatch(complianceKey, _pack(items), 1, block.timestamp + 300);
        items[2].amount = 2e6;
        bytes memory tampered = _pack(items);
        vm.expectRevert();
        vm.prank(submitter);
        router.payBatch(address(token), tampered, 1, block.timestamp + 300, decision, sig);
        vm.assertEq(token.balanceOf(items[0].recipient), 0);
    }

    function test_RevertWhen_batchEmpty() public {
        vm.expectRevert(PayoutRouter.EmptyBatch.selector);
        vm.prank(submitter);
        router.payBatch(address(token), "", 1, block.timestamp + 300, decision, "");
    }

    function test_RevertWhen_batchLengthNotWholeItems() public {
        bytes memory packed = new bytes(47);
        vm.expectRevert(abi.encodeWithSelector(PayoutRouter.MalformedBatch.selector, 47));
        vm.prank(submitter);
        router.payBatch(address(token), packed, 1, block.timestamp + 300, decision, "");
    }

    function test_RevertWhen_batchPaysBlacklistedRecipient() public {
        Item[] memory items = new Item[](2);
        items[0] = _item(0, 1e6);
        items[1] = _item(1, 1e6);
        vm.prank(owner);
        token.blacklist(items[1].recipient);
        bytes memory packed = _pack(items);
        bytes memory sig = _signBatch(complianceKey, packed, 1, block.timestamp + 300);
        vm.expectRevert(abi.encodeWithSelector(TestStablecoin.AccountBlacklisted.selector, items[1].recipient));
        vm.prank(submitter);
        router.payBatch(address(token), packed, 1, block.timestamp + 300, decision, sig);
        vm.assertEq(token.balanceOf(items[0].recipient), 0, "a reverted batch pays nobody");
        vm.assertTrue(!router.nonceUsed(1), "a reverted batch leaves its nonce unused");
    }

    function test_RevertWhen_tokenReturnsFalse() public {
        FalseToken bad = new FalseToken();
        Item[] memory items = new Item[](1);
        items[0] = _item(0, 1e6);
        bytes memory packed = _pack(items);
        bytes32 digest = router.batchDigest(address(bad), packed, 1, block.timestamp + 300, decision);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(complianceKey, digest);
        vm.expectRevert(
            abi.encodeWithSelector(PayoutRouter.TransferFailed.selector, address(bad), items[0].recipient, 1e6)
        );
        vm.prank(submitter);
        router.payBatch(address(bad), packed, 1, block.timestamp + 300, decision, abi.encodePacked(r, s, v));
    }

    function test_RevertWhen_tokenIsNotAContract() public {
        Item memory item = _item(0, 1e6);
        address eoa = address(0xE0A);
        bytes32 digest =
            router.payoutDigest(eoa, item.payoutId, item.recipient, item.amount, 1, block.timestamp + 1, decision);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(complianceKey, digest);
        vm.expectRevert(abi.encodeWithSelector(PayoutRouter.NotAContract.selector, eoa));
        vm.prank(submitter);
        router.pay(eoa, _packOne(item), 1, block.timestamp + 1, decision, abi.encodePacked(r, s, v));
    }

    function test_tokenReturningNothingIsAccepted() public {
        SilentToken silent = new SilentToken();
        Item memory item = _item(0, 1e6);
        bytes32 digest = router.payoutDigest(
            address(silent), item.payoutId, item.recipient, item.amount, 1, block.timestamp + 1, decision
        );
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(complianceKey, digest);
        vm.prank(submitter);
        router.pay(address(silent), _packOne(item), 1, block.timestamp + 1, decision, abi.encodePacked(r, s, v));
        vm.assertEq(silent.balanceOf(item.recipient), 1e6);
    }

    function test_RevertWhen_singleItemIsNotOneItem() public {
        vm.expectRevert(abi.encodeWithSelector(PayoutRouter.MalformedBatch.selector, 96));
        vm.prank(submitter);
        router.pay(address(token), new bytes(96), 1, block.timestamp + 1, decision, "");
    }

    function test_RevertWhen_nonOwnerChangesSigner() public {
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, address(this)));
        router.setComplianceSigner(address(this));
    }

    function testFuzz_singlePayoutPaysExactAmount(uint96 amount, uint128 id, uint256 nonce) public {
        vm.assume(amount > 0 && amount <= 1_000_000e6);
        Item memory item = Item({payoutId: bytes16(id), recipient: address(0xBEEF), amount: amount});
        bytes memory sig = _signSingle(complianceKey, item, nonce, block.timestamp + 1);
        vm.prank(submitter);
        _pay(item, nonce, block.timestamp + 1, sig);
        vm.assertEq(token.balanceOf(address(0xBEEF)), amount);
        vm.assertTrue(router.nonceUsed(nonce));
    }

    function testFuzz_batchPaysEachPackedItemExactly(uint96[8] memory amounts, uint8 n) public {
        n = uint8(bound(n, 1, 8));
        Item[] memory items = new Item[](n);
        uint256 total;
        for (uint256 i = 0; i < n; ++i) {
            uint96 amount = uint96(bound(amounts[i], 1, 100_000e6));
            items[i] = _item(i, amount);
            total += amount;
        }
        bytes memory packed = _pack(items);
        bytes memory sig = _signBatch(complianceKey, packed, 9, block.timestamp + 1);
        uint256 before = token.balanceOf(address(router));
        vm.prank(submitter);
        router.payBatch(address(token), packed, 9, block.timestamp + 1, decision, sig);
        for (uint256 i = 0; i < n; ++i) {
            vm.assertEq(token.balanceOf(items[i].recipient), items[i].amount);
        }
        vm.assertEq(token.balanceOf(address(router)), before - total);
    }
}
