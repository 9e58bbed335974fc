// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {TestBase} from "./Vm.sol";
import {TestStablecoin} from "../src/TestStablecoin.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {ERC3009} from "@openzeppelin/contracts/token/ERC20/extensions/draft-ERC3009.sol";

contract TestStablecoinTest is TestBase {
    TestStablecoin token;
    address owner = address(0xA11CE);
    uint256 payerKey = 0xB0B;
    address payer;
    address merchant = address(0xCAFE);

    bytes32 constant TRANSFER_WITH_AUTHORIZATION_TYPEHASH = keccak256(
        "TransferWithAuthorization(address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,bytes32 nonce)"
    );
    bytes32 constant PERMIT_TYPEHASH =
        keccak256("Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)");

    function setUp() public {
        token = new TestStablecoin("Test USD Coin", "USDC", owner);
        payer = vm.addr(payerKey);
        vm.prank(owner);
        token.mint(payer, 1_000e6);
    }

    function test_hasSixDecimals() public view {
        vm.assertEq(token.decimals(), 6);
    }

    function test_RevertWhen_notOwnerMints() public {
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, payer));
        vm.prank(payer);
        token.mint(payer, 1);
    }

    function test_RevertWhen_blacklistedSenderTransfers() public {
        vm.prank(owner);
        token.blacklist(payer);
        vm.expectRevert(abi.encodeWithSelector(TestStablecoin.AccountBlacklisted.selector, payer));
        vm.prank(payer);
        token.transfer(merchant, 1);
    }

    function test_RevertWhen_transferToBlacklistedRecipient() public {
        vm.prank(owner);
        token.blacklist(merchant);
        vm.expectRevert(abi.encodeWithSelector(TestStablecoin.AccountBlacklisted.selector, merchant));
        vm.prank(payer);
        token.transfer(merchant, 1);
    }

    function test_unBlacklistRestoresTransfers() public {
        vm.startPrank(owner);
        token.blacklist(merchant);
        token.unBlacklist(merchant);
        vm.stopPrank();
        vm.prank(payer);
        token.transfer(merchant, 5);
        vm.assertEq(token.balanceOf(merchant), 5);
    }

    function test_RevertWhen_notOwnerBlacklists() public {
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, payer));
        vm.prank(payer);
        token.blacklist(merchant);
    }

    function _authorization(uint256 value, uint256 validAfter, uint256 validBefore, bytes32 nonce)
        internal
        view
        returns (Sig memory)
    {
        bytes32 structHash = keccak256(
            abi.encode(TRANSFER_WITH_AUTHORIZATION_TYPEHASH, payer, merchant, value, validAfter, validBefore, nonce)
        );
        bytes32 digest = keccak256(abi.encodePacked("\x19\x01", token.DOMAIN_SEPARATOR(), structHash));
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(payerKey, digest);
        return Sig(v, r, s);
    }

    struct Sig {
        uint8 v;
        bytes32 r;
        bytes32 s;
    }

    function test_transferWithAuthorizationMovesFundsOnce() public {
        Sig memory sig = _authorization(10e6, 0, block.timestamp + 60, bytes32(uint256(1)));
        token.transferWithAuthorization(
            payer, merchant, 10e6, 0, block.timestamp + 60, bytes32(uint256(1)), sig.v, sig.r, sig.s
        );
        vm.assertEq(token.balanceOf(merchant), 10e6);
        vm.assertEq(token.authorizationState(payer, bytes32(uint256(1))), true);

        vm.expectRevert();
        token.transferWithAuthorization(
            payer, merchant, 10e6, 0, block.timestamp + 60, bytes32(uint256(1)), sig.v, sig.r, sig.s
        );
    }

    function test_RevertWhen_authorizationExpired() public {
        vm.warp(1000);
        Sig memory sig = _authorization(1e6, 0, 999, bytes32(uint256(2)));
        vm.expectRevert();
        token.transferWithAuthorization(payer, merchant, 1e6, 0, 999, bytes32(uint256(2)), sig.v, sig.r, sig.s);
    }

    function test_RevertWhen_authorizationAmountTampered() public {
        Sig memory sig = _authorization(1e6, 0, block.timestamp + 60, bytes32(uint256(3)));
        vm.expectRevert();
        token.transferWithAuthorization(
            payer, merchant, 2e6, 0, block.timestamp + 60, bytes32(uint256(3)), sig.v, sig.r, sig.s
        );
    }

    function test_permitSetsAllowance() public {
        uint256 deadline = block.timestamp + 60;
        bytes32 structHash = keccak256(abi.encode(PERMIT_TYPEHASH, payer, merchant, 7e6, token.nonces(payer), deadline));
        bytes32 digest = keccak256(abi.encodePacked("\x19\x01", token.DOMAIN_SEPARATOR(), structHash));
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(payerKey, digest);
        token.permit(payer, merchant, 7e6, deadline, v, r, s);
        vm.assertEq(token.allowance(payer, merchant), 7e6);
    }

    function testFuzz_transferConservesSupply(uint256 amount) public {
        vm.assume(amount <= 1_000e6);
        uint256 supply = token.totalSupply();
        vm.prank(payer);
        token.transfer(merchant, amount);
        vm.assertEq(token.totalSupply(), supply);
        vm.assertEq(token.balanceOf(merchant) + token.balanceOf(payer), 1_000e6);
    }

    function testFuzz_RevertWhen_transferAboveBalance(uint256 amount) public {
        vm.assume(amount > 1_000e6);
        vm.expectRevert(abi.encodeWithSelector(IERC20Errors.ERC20InsufficientBalance.selector, payer, 1_000e6, amount));
        vm.prank(payer);
        token.transfer(merchant, amount);
    }

    function test_blacklistKeepsBalanceAndFlagSeparate() public {
        vm.prank(owner);
        token.blacklist(payer);
        vm.assertEq(token.balanceOf(payer), 1_000e6);
        vm.assertTrue(token.isBlacklisted(payer));
        vm.prank(owner);
        token.unBlacklist(payer);
        vm.assertEq(token.balanceOf(payer), 1_000e6);
        vm.assertTrue(!token.isBlacklisted(payer));
    }

    function test_transferToSelfKeepsBalance() public {
        vm.prank(payer);
        token.transfer(payer, 400e6);
        vm.assertEq(token.balanceOf(payer), 1_000e6);
    }

    function test_RevertWhen_mintWouldReachTheFlagBit() public {
        vm.expectRevert(TestStablecoin.SupplyCapExceeded.selector);
        vm.prank(owner);
        token.mint(merchant, (uint256(1) << 255) - 1_000e6);
    }

    function test_RevertWhen_transferExceedsBalance() public {
        vm.expectRevert(
            abi.encodeWithSelector(IERC20Errors.ERC20InsufficientBalance.selector, payer, 1_000e6, 1_000e6 + 1)
        );
        vm.prank(payer);
        token.transfer(merchant, 1_000e6 + 1);
    }
}
