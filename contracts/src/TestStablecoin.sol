// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {ERC3009} from "@openzeppelin/contracts/token/ERC20/extensions/draft-ERC3009.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// @title TestStablecoin
/// @notice A USDC-like token for LOCAL CHAINS ONLY: 6 decimals, owner mint, EIP-2612 permit,
///         EIP-3009 transferWithAuthorization, and a blacklist like USDC's (a blacklisted account
///         can neither send nor receive). Corridor's deployer refuses to deploy it to a chain id
///         other than anvil's (31337).
/// @dev Balances live in one slot per account together with the blacklist flag (bit 255), as in
///      USDC v2.2, so a transfer touches exactly the two balance slots and nothing else: payout
///      gas is measured against the EVM floor with this token, and a separate blacklist mapping
///      would add a cold read per recipient. OpenZeppelin's own balance storage stays unused;
///      every path (mint, burn, transfer, transferFrom, EIP-3009) goes through `_update` here.
contract TestStablecoin is ERC20, ERC20Permit, ERC3009, Ownable {
    uint256 private constant BLACKLISTED = 1 << 255;
    uint256 private constant BALANCE_MASK = BLACKLISTED - 1;

    /// Bit 255: blacklisted. Bits 0..254: balance. Total supply is capped below 2^255, so a
    /// balance can never carry into the flag.
    mapping(address account => uint256) private _accounts;
    uint256 private _supply;

    event Blacklisted(address indexed account);
    event UnBlacklisted(address indexed account);

    error AccountBlacklisted(address account);
    error SupplyCapExceeded();

    constructor(string memory name_, string memory symbol_, address owner_)
        ERC20(name_, symbol_)
        ERC20Permit(name_)
        Ownable(owner_)
    {}

    function decimals() public pure override returns (uint8) {
        return 6;
    }

    function totalSupply() public view override returns (uint256) {
        return _supply;
    }

    function balanceOf(address account) public view override returns (uint256) {
        return _accounts[account] & BALANCE_MASK;
    }

    function isBlacklisted(address account) external view returns (bool) {
        return _accounts[account] & BLACKLISTED != 0;
    }

    function mint(address to, uint256 amount) external onlyOwner {
        _mint(to, amount);
    }

    function blacklist(address account) external onlyOwner {
        _accounts[account] |= BLACKLISTED;
        emit Blacklisted(account);
    }

    function unBlacklist(address account) external onlyOwner {
        _accounts[account] &= BALANCE_MASK;
        emit UnBlacklisted(account);
    }

    /// @dev The hot path of every payout, measured against the EVM floor: each balance slot is
    ///      hashed once and the result is returned straight from assembly. Same checks and effects
    ///      as `_update` (reverts are plain Solidity below).
    function transfer(address to, uint256 value) public override returns (bool) {
        if (to == address(0)) revert ERC20InvalidReceiver(address(0));
        uint256 fromSlot;
        uint256 f;
        assembly ("memory-safe") {
            mstore(0x00, caller())
            mstore(0x20, _accounts.slot)
            fromSlot := keccak256(0x00, 0x40)
            f := sload(fromSlot)
        }
        if (f & BLACKLISTED != 0) revert AccountBlacklisted(msg.sender);
        if (f < value) revert ERC20InsufficientBalance(msg.sender, f, value);
        uint256 toSlot;
        uint256 t;
        assembly ("memory-safe") {
            // Write the sender first and read the recipient after, so a transfer to oneself nets
            // to zero.
            sstore(fromSlot, sub(f, value))
            mstore(0x00, to)
            toSlot := keccak256(0x00, 0x40)
            t := sload(toSlot)
        }
        if (t & BLACKLISTED != 0) revert AccountBlacklisted(to);
        assembly ("memory-safe") {
            // Cannot carry into bit 255: every balance is at most the supply, capped below it.
            sstore(toSlot, add(t, value))
            mstore(0x00, value)
            // Transfer(address,address,uint256)
            log3(0x00, 0x20, 0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef, caller(), to)
            mstore(0x00, 1)
            return(0x00, 0x20)
        }
    }

    function _update(address from, address to, uint256 value) internal override {
        if (from == address(0)) {
            if (_supply + value > BALANCE_MASK) revert SupplyCapExceeded();
            _supply += value;
        } else {
            uint256 f = _accounts[from];
            if (f & BLACKLISTED != 0) revert AccountBlacklisted(from);
            if (f < value) revert ERC20InsufficientBalance(from, f, value);
            unchecked {
                _accounts[from] = f - value;
            }
        }
        if (to == address(0)) {
            unchecked {
                _supply -= value;
            }
        } else {
            // Read after the sender's write, so a transfer to oneself nets to zero.
            uint256 t = _accounts[to];
            if (t & BLACKLISTED != 0) revert AccountBlacklisted(to);
            unchecked {
                // Cannot carry into bit 255: every balance is at most the supply, capped above.
                _accounts[to] = t + value;
            }
        }
        emit Transfer(from, to, value);
    }
}
